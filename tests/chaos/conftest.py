"""The chaos tests' databases: a PostgreSQL database of their own, or a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import migrated_sqlite, private_postgres

# --- databases -----------------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL database, for the tests of several replicas."""
    with private_postgres("chaos") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite file."""
    return migrated_sqlite(tmp_path / "rating.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like conftest's `database_url` (SQLite, then PostgreSQL), on a private database."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "rating.db")
        return
    with private_postgres("chaos") as url:
        yield url
