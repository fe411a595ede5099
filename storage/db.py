"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with
`BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can fail with
"database is locked" even with a busy timeout, an immediate one waits its turn instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session


def normalize_url(url: str) -> URL:
    """Parse a database URL, choosing the psycopg 3 driver for plain `postgresql://`."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for `url`, with SQLite tuned for several threads and processes on one file."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=20)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        parsed,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=10,
    )
    event.listen(engine, "connect", _configure_sqlite)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "busy_timeout=30000",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "secure_delete=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


_writers: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()


def _writer_lock(engine: Engine) -> AbstractContextManager[object]:
    # Every SQLite transaction takes the write lock (BEGIN IMMEDIATE). Threads of one process
    # queue on a Python lock instead, and are woken the moment it frees; SQLite's own busy
    # handler would poll with sleeps of up to 100 ms. Other processes still meet busy_timeout.
    if engine.dialect.name != "sqlite":
        return nullcontext()
    if engine not in _writers:
        _writers[engine] = threading.RLock()
    return _writers[engine]


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on error."""
    with (
        _writer_lock(engine),
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        connection.rollback()
