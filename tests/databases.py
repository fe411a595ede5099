"""Test databases: this run's own PostgreSQL databases, and reading a database's end state."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

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

_TABLES = (
    "job",
    "survey",
    "request_budget",
    "seen_event",
    "service_status",
    "chat_person",
    "rating_change",
    "event_poll",
    "survey_day",
    "portal",
    "portal_company",
    "team_message",
)
_postgres_checked: list[bool] = []
_databases = itertools.count(1)


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


@contextmanager
def private_postgres(prefix: str = "test") -> Iterator[str]:
    """A migrated PostgreSQL database of this run's own on the test server, dropped afterwards.

    Two runs of the suite on one machine (or a developer's run beside CI) never touch each
    other's tables: each makes and drops databases named after its process.
    """
    require_postgres()
    server = make_url(POSTGRES_URL)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    database = f"{prefix}_{os.getpid()}_{next(_databases)}"
    name = sql.Identifier(database)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        url = server.set(database=database).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def empty_postgres(url: str) -> None:
    """Empty every table of a PostgreSQL test database (faster than making a new one)."""
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


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
