"""Test databases: this run's own PostgreSQL databases, and reading a database's end state."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from harness.constants import POSTGRES_URL
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.tables import Job, JobKind, JobState, Survey

_postgres_checked: list[bool] = []
_databases = itertools.count(1)
# The migrated SQLite file and PostgreSQL database this process copies from (made once).
_templates: dict[str, str] = {}


def _postgres_available() -> bool:
    if not _postgres_checked:
        engine = create_db_engine(POSTGRES_URL, pool_size=1)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            _postgres_checked.append(True)
        except Exception:
            _postgres_checked.append(False)
        finally:
            engine.dispose()
    return _postgres_checked[0]


def require_postgres() -> None:
    """Skip (or, with REQUIRE_POSTGRES, fail) when the PostgreSQL test server is unreachable."""
    if not _postgres_available():
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but unreachable at {POSTGRES_URL}")
        pytest.skip("PostgreSQL is not reachable (set TEST_POSTGRES_URL)")


def migrated_sqlite(path: Path) -> str:
    """A SQLite file at the newest schema at `path`, and its URL.

    The file is a byte copy of one this process migrated once: running the migrations takes
    0.3-1 s a file, copying it under a millisecond, and the two files are the same.
    """
    if not _templates.get("sqlite"):
        directory = tempfile.mkdtemp(prefix="rating-template-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        template = Path(directory) / "rating.db"
        upgrade(f"sqlite:///{template}")
        # Every connection is closed, so WAL has been folded into the file itself.
        assert not template.with_name("rating.db-wal").exists()
        _templates["sqlite"] = str(template)
    shutil.copyfile(_templates["sqlite"], path)
    return f"sqlite:///{path}"


def _admin_url() -> str:
    server = make_url(POSTGRES_URL)
    return server.set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_template() -> str:
    """This process's migrated PostgreSQL database that the others are copied from."""
    if not _templates.get("postgresql"):
        database = f"template_{os.getpid()}"
        name = sql.Identifier(database)
        with psycopg.connect(_admin_url(), autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            connection.execute(sql.SQL("CREATE DATABASE {}").format(name))
        atexit.register(_drop, database)
        upgrade(make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False))
        _templates["postgresql"] = database
    return _templates["postgresql"]


def _drop(database: str) -> None:
    with psycopg.connect(_admin_url(), autocommit=True) as connection:
        name = sql.Identifier(database)
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@contextmanager
def private_postgres(prefix: str = "test") -> Iterator[str]:
    """A migrated PostgreSQL database of this run's own on the test server, dropped afterwards.

    Two runs of the suite on one machine (or a developer's run beside CI, or two pytest-xdist
    workers) never touch each other's tables: each makes and drops databases named after its
    process. Each is a copy (CREATE DATABASE ... TEMPLATE) of one migrated once per process.
    """
    require_postgres()
    template = sql.Identifier(_postgres_template())
    database = f"{prefix}_{os.getpid()}_{next(_databases)}"
    name = sql.Identifier(database)
    with psycopg.connect(_admin_url(), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(name, template))
    try:
        yield make_url(POSTGRES_URL).set(database=database).render_as_string(hide_password=False)
    finally:
        _drop(database)


def empty_postgres(url: str) -> None:
    """Empty every table of a PostgreSQL test database but alembic's (faster than making a new
    one). The tables are read from the database, so that a table a migration adds is emptied
    too."""
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            tables = connection.execute(text(_OUR_TABLES)).scalars().all()
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


_OUR_TABLES = """
    SELECT quote_ident(tablename) FROM pg_tables
    WHERE schemaname = current_schema() AND tablename <> 'alembic_version' ORDER BY tablename
"""


def surveys(engine: Engine) -> list[Survey]:
    """All surveys, oldest first."""
    with transaction(engine) as session:
        return list(session.exec(select(Survey).order_by(Survey.id)).all())  # type: ignore[arg-type]


def checked_bot(engine: Engine) -> bool:
    """Whether a check of a reported bot deletion ran and none is pending."""
    kinds = [(j.kind, j.state) for j in jobs(engine) if j.kind == JobKind.CHECK_BOT_DELETED]
    return bool(kinds) and all(state == JobState.DONE for _, state in kinds)


def jobs(engine: Engine) -> list[Job]:
    """All jobs, oldest first."""
    with transaction(engine) as session:
        return list(session.exec(select(Job).order_by(Job.id)).all())  # type: ignore[arg-type]
