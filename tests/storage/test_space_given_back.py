"""A SQLite file shrinks when the purge frees space (incremental auto-vacuum), also a file made
before this release, which the first start converts once; nothing it held is lost."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from bridge.worker import housekeeping
from harness.vendors import make_settings
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.tables import Job, JobKind, JobState

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=90)


def _auto_vacuum(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("PRAGMA auto_vacuum").fetchone()[0])


def _size(path: Path) -> int:
    with sqlite3.connect(path) as connection:  # what the WAL holds goes into the file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path.stat().st_size


def _finished_jobs(engine: Engine, count: int) -> None:
    row = {
        "kind": JobKind.REPLY,
        "payload": "{" + '"text": "' + "x" * 2000 + '"}',
        "state": JobState.DONE,
        "available_at": LONG_AGO,
        "created_at": LONG_AGO,
        "finished_at": LONG_AGO,
    }
    with transaction(engine) as session:
        session.execute(insert(Job), [row] * count)


def _jobs(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.execute(select(func.count()).select_from(Job)).scalar_one())


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "rating.db"


def test_a_new_database_gives_back_what_the_purge_freed(sqlite_file: Path) -> None:
    url = f"sqlite:///{sqlite_file}"
    upgrade(url)
    assert _auto_vacuum(sqlite_file) == 2  # incremental
    engine = create_db_engine(url, pool_size=2)
    try:
        empty = _size(sqlite_file)
        _finished_jobs(engine, 3000)
        full = _size(sqlite_file)
        assert full > empty + 5_000_000
        housekeeping.Chores(engine, make_settings(url)).run(NOW)  # the purge runs first time
        assert _jobs(engine) == 0
        assert _size(sqlite_file) < empty + 500_000
    finally:
        engine.dispose()


def test_a_database_made_before_is_converted_once_at_start_and_keeps_its_rows(
    sqlite_file: Path,
) -> None:
    with sqlite3.connect(sqlite_file) as connection:  # as SQLite made files before
        connection.execute("PRAGMA auto_vacuum = NONE")
        connection.execute("CREATE TABLE kept (value TEXT)")
        connection.executemany("INSERT INTO kept VALUES (?)", [("a",), ("b",)])
    assert _auto_vacuum(sqlite_file) == 0
    url = f"sqlite:///{sqlite_file}"
    upgrade(url)
    assert _auto_vacuum(sqlite_file) == 2
    with sqlite3.connect(sqlite_file) as connection:
        assert connection.execute("SELECT value FROM kept ORDER BY value").fetchall() == [
            ("a",),
            ("b",),
        ]
    engine = create_db_engine(url, pool_size=2)
    try:
        _finished_jobs(engine, 2000)
        full = _size(sqlite_file)
        housekeeping.Chores(engine, make_settings(url)).run(NOW)
        assert _size(sqlite_file) < full - 3_000_000
    finally:
        engine.dispose()
