"""The fast layer's service on both databases (SQLite and PostgreSQL), with issue 10's
follow-up and change of mind at their documented defaults."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.fast.harness import Service
from tests.survey.steps import survey_service


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def service(engine: Engine, database_url: str) -> Service:
    """The service on an empty database, seeded fakes, the survey settings at their defaults."""
    return survey_service(engine, database_url)
