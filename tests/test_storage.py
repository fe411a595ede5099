"""The schema the migrations build is the schema the code expects, on both databases."""

from __future__ import annotations

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables)
from storage.migrate import alembic_config
from tests.harness.constants import POSTGRES_URL


def test_migrations_match_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_each_run_of_the_suite_has_a_database_of_its_own(database_url: str) -> None:
    # Two runs on one machine must never truncate each other's tables: PostgreSQL tests use a
    # database made (and dropped) by this run, named after its process.
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        assert url.database != make_url(POSTGRES_URL).database
        assert url.database is not None and f"_{os.getpid()}_" in url.database


def test_each_migration_is_announced_in_one_line() -> None:
    """Alembic logs a migration's first docstring paragraph; the log escapes a line break as a
    literal `\\n` (the sandbox's log showed it)."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    docs = [script.doc for script in scripts.walk_revisions()]
    assert len(docs) >= 8
    assert [doc for doc in docs if "\n" in doc or not doc.strip()] == []
