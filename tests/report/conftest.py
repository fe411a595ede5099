"""The app with ADMIN_TOKEN set, in-process, over a database holding the hand-made data set."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import pytest

from harness.app import Running, running_app
from harness.vendors import make_settings, seeded_vendors
from storage.db import create_db_engine
from tests.report import dataset

ADMIN_TOKEN = "admin-token-for-the-report-tests"


def basic(password: str, user: str = "anyone") -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def admin(database_url: str) -> AsyncIterator[Running]:
    """The running app (worker off: the figures must not move under the test), data seeded."""
    engine = create_db_engine(database_url, pool_size=1)
    dataset.seed(engine)
    engine.dispose()
    settings = make_settings(database_url, admin_token=ADMIN_TOKEN, worker_enabled=False)
    async with running_app(settings, seeded_vendors()) as running:
        yield running
