"""pytest fixtures: a real database (SQLite file and PostgreSQL) and the fake vendors with the
bot registered. What they are built from lives in harness/ (shared with bench/) and
tests/databases.py."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import respx
from sqlalchemy.engine import Engine

import bridge.config.logs
from bot.client import BitrixClient
from bot.register import register
from harness.constants import BITRIX_BASE, CLIENT_ID, WEBHOOK_PATH
from harness.vendors import Vendors, make_settings, seeded_vendors
from storage.db import create_db_engine
from tests.databases import empty_postgres, migrated_sqlite, private_postgres, require_postgres


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def run_postgres_url() -> Iterator[str]:
    """This run's own PostgreSQL database, emptied before each test that uses it."""
    with private_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or this run's PostgreSQL database."""
    if request.param == "sqlite":
        return migrated_sqlite(tmp_path / "rating.db")
    require_postgres()
    shared: str = request.getfixturevalue("run_postgres_url")
    empty_postgres(shared)
    return shared


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database, for looking at end state."""
    engine = create_db_engine(database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
async def vendors(database_url: str) -> Vendors:
    """Seeded fakes, with the bot already registered in the fake portal."""
    fakes = seeded_vendors()
    async with httpx.AsyncClient(transport=fakes.transport) as http:
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        await register(client, make_settings(database_url))
    fakes.bitrix.calls.clear()
    return fakes


@pytest.fixture
def logging_state() -> Iterator[None]:
    """Put back the global logging set-up that a test changes."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx")
    loggers = [logging.getLogger(name) for name in names]
    saved = [(logger, logger.handlers[:], logger.propagate, logger.level) for logger in loggers]
    factory, redact = logging.getLogRecordFactory(), bridge.config.logs._redact
    yield
    for logger, handlers, propagate, level in saved:
        logger.handlers[:] = handlers
        logger.propagate = propagate
        logger.setLevel(level)
    logging.setLogRecordFactory(factory)
    bridge.config.logs._redact = redact


# The vendor clients over a router of mocked routes (tests/bot/clients, tests/okdesk).
@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def http(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


# The fast unit layer (pure code, in-memory vendors, no processes) runs first, so that a broken
# rule fails in seconds, before the suites that start servers. Then the modules marked `slow`
# (they wait on processes and real time). CI runs the suite in three pytest-xdist workers on
# its two cores: much of the suite waits on real time, and three overlap the waits (652 s
# against 744 s for two; four, 625 s, crowd the tests that time real servers). A whole module
# goes to one worker (`--dist loadfile --no-loadscope-reorder` keeps this order), and a long
# module started early leaves the short ones to fill the other workers, instead of running
# alone at the end. Whole modules move, so a module's tests stay together and its fixtures are
# set up once.
UNIT_LAYER = ("tests/fast/", "tests/rules/", "tests/bot/reading/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).resolve().parent.parent

    def layer(item: pytest.Item) -> int:
        if str(Path(item.path).resolve().relative_to(root)).startswith(UNIT_LAYER):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=layer)
