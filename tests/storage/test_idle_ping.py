"""A pooled PostgreSQL connection is pinged only when it sat idle
(`storage.db.ping_when_idle`): none for a connection used a moment ago, and one that the
server closed while it sat idle is replaced before the transaction runs on it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from storage.db import normalize_url, ping_when_idle, transaction

IDLE = 0.3
# PostgreSQL's only: SQLite's connections are files in this process, with nothing to ping.
pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """One pooled connection, pinged after `IDLE` seconds idle."""
    engine = create_engine(normalize_url(database_url), pool_size=1)
    ping_when_idle(engine, after=IDLE)
    yield engine
    engine.dispose()


@pytest.fixture
def pings(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each ping the pool sends."""
    sent: list[object] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        sent.append(dbapi_connection)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return sent


def _backend(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(database_url: str, pid: int) -> None:
    url = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_only_a_connection_that_sat_idle_is_pinged(engine: Engine, pings: list[object]) -> None:
    first = _backend(engine)
    for _ in range(20):
        assert _backend(engine) == first
    assert pings == []
    time.sleep(IDLE * 1.5)
    assert _backend(engine) == first
    assert len(pings) == 1


def test_a_connection_closed_while_idle_is_replaced_before_use(
    engine: Engine, database_url: str, pings: list[object]
) -> None:
    first = _backend(engine)
    _terminate(database_url, first)
    time.sleep(IDLE * 1.5)
    assert _backend(engine) != first
    assert len(pings) == 1


def test_a_connection_closed_within_the_idle_time_fails_one_transaction(
    engine: Engine, database_url: str
) -> None:
    """The trade made: a restart between two uses less than `IDLE` apart fails the second
    (as a restart during it would); the connection is dropped, and the next one works."""
    first = _backend(engine)
    _terminate(database_url, first)
    with pytest.raises(OperationalError):
        _backend(engine)
    assert _backend(engine) != first
