"""A closure's write on SQLite runs on the event loop when it can begin at once, and in a
thread, waiting its turn, when another writer holds the database: never lost, never failed
for being second, and the event loop never waits out another process's lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url

from bridge.rules.decisions import ClosureDecision
from bridge.survey import closures
from bridge.web.grouped import GroupCommit
from harness.app import running_app
from harness.payloads import closed_webhook
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.db import (
    BUSY_TIMEOUT_MS,
    WriterBusyError,
    create_db_engine,
    quick_writes,
    transaction,
    transaction_at_once,
)
from storage.survey.surveys import new_survey, open_surveys
from storage.tables import SurveyState, utcnow
from tests.databases import migrated_sqlite, surveys

pytestmark = pytest.mark.anyio


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return migrated_sqlite(tmp_path / "rating.db")


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_db_engine(sqlite_url, pool_size=2)
    yield engine
    engine.dispose()


class OtherProcess:
    """Another process's connection to the same file, holding the write lock while inside."""

    def __init__(self, url: str) -> None:
        self.connection = sqlite3.connect(make_url(url).database or "", isolation_level=None)

    def __enter__(self) -> OtherProcess:
        self.connection.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *_: object) -> None:
        self.connection.execute("COMMIT")
        self.connection.close()


def _closure(issue_id: int) -> tuple[closures.StatusChange, datetime]:
    return closures.StatusChange(issue_id, "closed", 11771, "Касса", "Иван"), utcnow()


def test_only_sqlite_writes_on_the_event_loop(engine: Engine, database_url: str) -> None:
    assert quick_writes(engine) is database_url.startswith("sqlite")


def test_a_write_begun_at_once_is_committed(sqlite_engine: Engine, sqlite_url: str) -> None:
    settings = make_settings(sqlite_url)
    decisions = closures.record_status_changes_at_once(
        sqlite_engine, settings, [_closure(1), _closure(2)]
    )
    assert decisions == [ClosureDecision.OPEN, ClosureDecision.OPEN]
    assert sorted(survey.issue_id for survey in surveys(sqlite_engine)) == [1, 2]


def test_an_error_inside_rolls_the_write_back(sqlite_engine: Engine) -> None:
    row = new_survey(
        token="t",
        issue_id=6,
        current_issue_id=6,
        state=SurveyState.INVITING,
        language="ru",
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    with pytest.raises(ZeroDivisionError), transaction_at_once(sqlite_engine) as session:
        assert open_surveys(session, [row])
        _ = 1 / 0
    assert surveys(sqlite_engine) == []


def test_a_thread_of_this_process_writing_makes_it_busy(
    sqlite_engine: Engine, sqlite_url: str
) -> None:
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(sqlite_engine):
            inside.set()
            assert leave.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        settings = make_settings(sqlite_url)
        assert (
            closures.record_status_changes_at_once(sqlite_engine, settings, [_closure(3)]) is None
        )
        with pytest.raises(WriterBusyError), transaction_at_once(sqlite_engine):
            pytest.fail("began while another thread was writing")
    finally:
        leave.set()
        holder.join()
    assert surveys(sqlite_engine) == []  # nothing of the refused write was kept


def test_another_process_holding_the_lock_makes_it_busy_without_waiting(
    sqlite_engine: Engine, sqlite_url: str
) -> None:
    settings = make_settings(sqlite_url)
    with OtherProcess(sqlite_url):
        assert (
            closures.record_status_changes_at_once(sqlite_engine, settings, [_closure(4)]) is None
        )
    # The connection it tried is back to waiting its turn, as every other transaction does.
    with sqlite_engine.connect() as connection:
        timeouts = {connection.exec_driver_sql("PRAGMA busy_timeout").scalar() for _ in range(3)}
    assert timeouts == {BUSY_TIMEOUT_MS}
    assert closures.record_status_changes_at_once(sqlite_engine, settings, [_closure(4)]) == [
        ClosureDecision.OPEN
    ]


async def test_the_group_writes_on_the_loop_and_falls_back_to_a_thread() -> None:
    loop_thread = threading.get_ident()
    threads: list[str] = []

    def at_once(items: Sequence[str]) -> list[str] | None:
        assert threading.get_ident() == loop_thread
        if "busy" in items:
            return None
        threads.append("loop")
        return [item.upper() for item in items]

    def in_thread(items: Sequence[str]) -> list[str]:
        threads.append("loop" if threading.get_ident() == loop_thread else "thread")
        return [item.upper() for item in items]

    group: GroupCommit[str, str] = GroupCommit(in_thread, at_once)
    assert await group.submit("a") == "A"
    assert await group.submit("busy") == "BUSY"
    assert threads == ["loop", "thread"]


async def test_a_webhook_that_meets_another_process_writing_waits_and_is_committed(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    if not quick_writes(engine):
        pytest.skip("PostgreSQL's writes never run on the event loop")
    loop = asyncio.get_running_loop()
    async with running_app(make_settings(database_url), vendors) as app:
        with OtherProcess(database_url):
            answer = asyncio.ensure_future(app.webhook(closed_webhook(5)))
            before = loop.time()
            await asyncio.sleep(0.3)
            # The event loop did not wait out the other process's lock (30 s busy timeout):
            # this sleep ended on time, and the webhook is not answered before its commit.
            assert loop.time() - before < 10
            assert not answer.done()
        response = await answer
        assert response.status_code == 200 and response.json()["result"] == "accepted"
        await eventually(lambda: [s.issue_id for s in surveys(engine)] == [5])
