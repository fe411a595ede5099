"""Fixtures of the fast layer: one migrated SQLite file per run, emptied before each test, and
the service around it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from tests.fast.harness import Service


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def fast_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database file at the newest schema, migrated once per run."""
    url = f"sqlite:///{tmp_path_factory.mktemp('fast') / 'rating.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def fast_engine(fast_database_url: str) -> Iterator[Engine]:
    """One engine for the run: its compiled statements are reused from test to test."""
    engine = create_db_engine(fast_database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def service(fast_engine: Engine, fast_database_url: str) -> Service:
    """The service on an empty database, with seeded fakes."""
    with transaction(fast_engine) as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            session.execute(table.delete())
    return Service(fast_engine, fast_database_url)
