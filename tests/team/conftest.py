"""The fast layer's service on both databases (SQLite and PostgreSQL), with the team's chat
set (ALERT_DIALOG_ID) and the follow-up question at its documented default."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.fast.harness import Service
from tests.team.steps import team_service


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def service(engine: Engine, database_url: str) -> Service:
    """The service on an empty database, seeded fakes, alerts to the team's chat."""
    return team_service(engine, database_url)
