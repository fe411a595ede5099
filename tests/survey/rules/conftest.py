"""Issue 10's rules (reminder, who is asked, automatic comment, texts, report context) on
SQLite and PostgreSQL: the fast layer's service (in-memory vendors, a fixed clock) on the
parametrized `engine` of tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from bot.texts import messages
from tests.fast.harness import Service


@pytest.fixture
def service(engine: Engine, database_url: str) -> Service:
    """The service on an empty database (SQLite or PostgreSQL), with seeded fakes."""
    return Service(engine, database_url)


@pytest.fixture(autouse=True)
def builtin_texts() -> Iterator[None]:
    """Every test starts and ends with the built-in texts (a texts file is process-wide)."""
    messages.use_texts({})
    yield
    messages.use_texts({})
