"""The benchmark's database: a fresh SQLite file or a PostgreSQL database of its own, the
surveys a sweep runs over, and the plan of the sweep's query."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Table, insert, text
from sqlalchemy.engine import Engine, make_url

from bench.running.service import FIRST_ISSUE
from storage.tables import Survey, SurveyState

CHUNK = 5_000


# --- databases -----------------------------------------------------------------------------


def _admin_conninfo(database_url: str) -> str:
    """The given PostgreSQL URL as psycopg takes it (no SQLAlchemy driver suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_database(postgres_url: str | None, tmp: Path, name: str) -> Iterator[str]:
    """A new, empty database: a SQLite file in `tmp`, or a PostgreSQL database of our own."""
    if postgres_url is None:
        yield f"sqlite:///{tmp / name}.db"
        return
    admin = _admin_conninfo(postgres_url)
    database = f"bench_{os.getpid()}_{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        url = make_url(postgres_url).set(database=database)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


# --- 4: the timeout sweep ------------------------------------------------------------------


def seed_surveys(engine: Engine, pending: int, due: int, now: datetime) -> None:
    """`pending` awaiting surveys due tomorrow and `due` whose deadline passed an hour ago."""
    table_: Table = Survey.__table__  # type: ignore[attr-defined]
    later, earlier = now + timedelta(days=1), now - timedelta(hours=1)

    def row(i: int, deadline: datetime) -> dict[str, Any]:
        return {
            "token": f"bench{i:011d}",
            "issue_id": FIRST_ISSUE + i,
            "current_issue_id": FIRST_ISSUE + i,
            "state": SurveyState.AWAITING.value,
            "language": "ru",
            "bitrix_user_id": 27,
            "message_id": 90_000 + i,
            "created_at": now - timedelta(hours=2),
            "updated_at": now - timedelta(hours=2),
            "deadline_at": deadline,
            "automatic": False,
            "personal_data_purged": False,
        }

    total = pending + due
    for first in range(0, total, CHUNK):
        rows = [
            row(i, later if i < pending else earlier)
            for i in range(first, min(total, first + CHUNK))
        ]
        with engine.begin() as connection:
            connection.execute(insert(table_), rows)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def sweep_plan(engine: Engine, now: datetime) -> str:
    """The database's plan for the sweep's query, on one line."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            naive = now.replace(tzinfo=None).isoformat(sep=" ")
            rows = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM survey WHERE deadline_at <= ? "
                "ORDER BY deadline_at LIMIT 500",
                (naive,),
            ).all()
            plan = "; ".join(str(r[-1]) for r in rows)
        else:
            rows = connection.exec_driver_sql(
                "EXPLAIN SELECT * FROM survey WHERE deadline_at <= %s "
                "ORDER BY deadline_at LIMIT 500",
                (now,),
            ).all()
            plan = "; ".join(re.sub(r"\s*\(cost=[^)]*\)", "", str(r[0])).strip() for r in rows)
        connection.rollback()
    return plan
