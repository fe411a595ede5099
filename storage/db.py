"""Engines and transactions for SQLite (the embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with
`BEGIN IMMEDIATE`: a deferred transaction that reads and then writes can fail with
"database is locked" even with a busy timeout, an immediate one waits its turn instead.

Transactions run on the database threads (`asyncio.to_thread`), except a short SQLite write
that can begin at once (`transaction_at_once`): that one runs on the event loop itself. Handed
to a thread, a closure webhook's write cost a third more CPU than the write, the two threads
trading the interpreter lock at every SQLite call (`python -m bench`, table 1).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlmodel import Session

BUSY_TIMEOUT_MS = 30_000
log = logging.getLogger(__name__)


class WriterBusyError(Exception):
    """Another writer holds the database: a transaction begun now would have to wait."""


SUPPORTED_KINDS = ("sqlite", "postgresql", "postgres")


def unsupported_kind(url: str) -> str | None:
    """Why `url` names a database this service cannot use, or None when it can."""
    scheme = url.split(":", 1)[0].lower()
    if scheme.split("+", 1)[0] in SUPPORTED_KINDS:
        return None
    return (
        f"{scheme or 'this'}:// is not supported: use sqlite:///path/to/rating.db "
        "or postgresql://user:password@host:5432/database"
    )


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
        engine = create_engine(parsed, pool_size=pool_size, max_overflow=20)
        ping_when_idle(engine)
        return engine
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


# A pooled PostgreSQL connection is pinged before use only when it sat idle this long.
PING_AFTER_IDLE = 1.0
_USED_AT = "okdesk_rating_used_at"


def ping_when_idle(engine: Engine, after: float = PING_AFTER_IDLE) -> None:
    """Ping a connection at checkout when it was last used `after` seconds ago or more.

    `pool_pre_ping` pinged at every checkout: a round trip more for every transaction, ~330
    in a burst of 1,000 closures. A connection given back a moment ago was alive a moment ago;
    one that sat idle may have been closed (a restart, a firewall), and is pinged, and replaced
    if dead, before use. A restart between two uses less than `after` apart fails the second,
    as a restart during it does: the sender is answered 503, a worker's pass is retried."""
    dialect = engine.dialect

    def used(_dbapi_connection: Any, record: Any) -> None:
        record.info[_USED_AT] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED_AT, -math.inf) < after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                # The pool drops this connection and checks out another (a new one if none).
                raise DisconnectionError("the pooled connection was closed") from exc
            raise

    event.listen(engine, "connect", used)
    event.listen(engine, "checkin", used)
    event.listen(engine, "checkout", checkout)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite would defer it).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Takes effect on a new file only (before its first table); `use_incremental_vacuum`
    # converts an older one once. Not asked of a file in use: it would want the write lock.
    if cursor.execute("PRAGMA page_count").fetchone()[0] == 0:
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    for pragma in (
        "journal_mode=WAL",
        f"busy_timeout={BUSY_TIMEOUT_MS}",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "secure_delete=ON",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


_READ_ONLY = "okdesk_rating_read_only"


def _begin_immediate(connection: Any) -> None:
    # A read-only snapshot (`reading`) begins deferred: in WAL mode it never blocks a writer.
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


_writers: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()


def _writer_lock(engine: Engine) -> AbstractContextManager[object]:
    # Every SQLite transaction takes the write lock (BEGIN IMMEDIATE). Threads of one process
    # queue on a Python lock instead, and are woken the moment it frees; SQLite's own busy
    # handler would poll with sleeps of up to 100 ms. Other processes still meet busy_timeout.
    if engine.dialect.name != "sqlite":
        return nullcontext()
    return _sqlite_writer(engine)


def _sqlite_writer(engine: Engine) -> threading.RLock:
    return _writers.setdefault(engine, threading.RLock())


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session inside one transaction: committed on success, rolled back on error."""
    with (
        _writer_lock(engine),
        Session(engine, expire_on_commit=False) as session,
        session.begin(),
    ):
        yield session


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run `action` once the session's transaction is committed, never if it is rolled back
    (a count kept in memory must not grow when a refused commit is tried again)."""
    event.listen(session, "after_commit", lambda _session: action(), once=True)


@contextmanager
def reading(engine: Engine) -> Iterator[Session]:
    """A session that only reads, in one snapshot, rolled back at the end. On SQLite it takes
    no write lock (neither SQLite's nor this process's): a report page reloaded while webhooks
    come held it for its whole read (webhook p50 5.5 → 46.9 ms, issue 23)."""
    with engine.connect() as connection:
        connection.execution_options(**{_READ_ONLY: True})
        if engine.dialect.name != "sqlite":  # one snapshot for the whole read
            connection.execution_options(isolation_level="REPEATABLE READ")
        with Session(bind=connection) as session:  # begun at its first query, rolled back
            yield session


@contextmanager
def reading_one_statement(engine: Engine) -> Iterator[Connection]:
    """A connection for a read of one statement, which sees one snapshot by itself, read again
    and again (a scrape of /metrics). On PostgreSQL it runs in autocommit: neither BEGIN before
    it nor ROLLBACK after it travels to the server (two of the three round trips of such a read
    in `reading`; the pool's ping of a connection that sat idle is the third). And the server
    prepares it the first time it runs on a connection, not the fifth (psycopg's
    `prepare_threshold`): a second apart, a run planned anew took 1.6 ms p50, a prepared one
    0.8. On SQLite as `reading`."""
    with engine.connect() as connection:
        connection.execution_options(**{_READ_ONLY: True})
        if engine.dialect.name == "sqlite":
            yield connection
            return
        connection.execution_options(isolation_level="AUTOCOMMIT")
        driver = connection.connection.driver_connection
        assert driver is not None
        threshold = driver.prepare_threshold
        driver.prepare_threshold = 0
        try:
            yield connection
        finally:
            driver.prepare_threshold = threshold


def quick_writes(engine: Engine) -> bool:
    """Whether a short write may run on the event loop (`transaction_at_once`): SQLite's are
    a millisecond of local file work; PostgreSQL's wait on the network, so they never do."""
    return engine.dialect.name == "sqlite"


@contextmanager
def transaction_at_once(engine: Engine) -> Iterator[Session]:
    """A SQLite transaction (`quick_writes`) begun only if it need not wait: no other thread
    of this process is writing, and no other process holds the write lock (its BEGIN fails at
    once rather than wait out the busy timeout). Otherwise `WriterBusyError`, before anything
    is written: the caller then writes in a thread with `transaction`, which waits its turn."""
    lock = _sqlite_writer(engine)
    if not lock.acquire(blocking=False):
        raise WriterBusyError
    try:
        with engine.connect() as connection:
            sqlite = connection.connection.dbapi_connection
            assert sqlite is not None
            sqlite.execute("PRAGMA busy_timeout=0")
            try:
                begun = connection.begin()  # BEGIN IMMEDIATE (`_begin_immediate`)
            except OperationalError as exc:
                raise WriterBusyError from exc
            finally:
                sqlite.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            with begun, Session(bind=connection, expire_on_commit=False) as session:
                yield session
                session.flush()
    finally:
        lock.release()


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        connection.rollback()


# PRAGMA auto_vacuum's value for incremental.
_INCREMENTAL = 2


@contextmanager
def _sqlite_outside_transactions(engine: Engine) -> Iterator[Any]:
    """The SQLite connection itself, in autocommit, while no thread of ours writes."""
    with _sqlite_writer(engine):
        raw = engine.raw_connection()
        try:
            yield raw.driver_connection
        finally:
            raw.close()


def use_incremental_vacuum(engine: Engine) -> bool:
    """SQLite: make the file one that can give freed pages back (`give_back_space`); True if
    it was not one yet and has been converted now.

    Only VACUUM converts a file (it rewrites it whole: free disk about its size is needed, and
    nothing else can write meanwhile), and VACUUM cannot run inside a transaction, so this is
    not a migration: `storage.migrate.upgrade` calls it after them, once per file."""
    if engine.dialect.name != "sqlite":
        return False
    with _sqlite_outside_transactions(engine) as sqlite:
        if sqlite.execute("PRAGMA auto_vacuum").fetchone()[0] == _INCREMENTAL:
            return False
        log.warning(
            "database.converting auto_vacuum=incremental: VACUUM rewrites the file once "
            "(a file of a million surveys, 1 GB, took 24 s on a 2-core machine)"
        )
        began = time.monotonic()
        sqlite.execute("PRAGMA auto_vacuum = INCREMENTAL")
        sqlite.execute("VACUUM")
        log.warning("database.converted seconds=%.1f", time.monotonic() - began)
        return True


def give_back_space(engine: Engine) -> None:
    """SQLite: return the pages the purge freed to the file system (the file shrinks at the
    WAL checkpoint, run here too). PostgreSQL's autovacuum makes freed space reusable itself."""
    if engine.dialect.name != "sqlite":
        return
    with _sqlite_outside_transactions(engine) as sqlite:
        # executescript steps the pragma to its end; execute() would free one page.
        sqlite.executescript("PRAGMA incremental_vacuum;")
        sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
