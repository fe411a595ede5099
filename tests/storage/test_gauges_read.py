"""/metrics' gauges read the database in one statement (`storage.reading.gauges`): each part of
it reads what its own module's reader reads alone, and on PostgreSQL it runs outside a
transaction and is prepared on the server from its first run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from psycopg import pq
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from storage import budget, polling, portals, queue, status
from storage.db import reading, reading_one_statement, transaction
from storage.portals import Portal, PortalState
from storage.reading import waiting
from storage.reading.gauges import Stored, read_stored
from storage.reading.waiting import SurveyWaiting
from storage.status import StatusKey
from storage.tables import EventPoll, JobKind

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _portal(
    number: int, name: str, state: PortalState, blocked_until: datetime | None = None
) -> Portal:
    return Portal(
        id=number,
        name=name,
        domain=f"{name}.bitrix24.ru",
        api="v2" if number == 2 else "v1",
        bot_code="okdesk_rating",
        state=state,
        created_at=NOW,
        updated_at=NOW,
        blocked_until=blocked_until,
    )


def _fill(engine: Engine) -> None:
    """A little of everything the gauges show: jobs due and not yet, the heartbeat, portals
    (one blocked, one removed), a used bucket, waiting surveys, a bot's answered polls."""
    with transaction(engine) as session:
        for kind, at in ((JobKind.INVITE, -3), (JobKind.INVITE, -1), (JobKind.REMIND, 2)):
            queue.enqueue(session, kind=kind, now=NOW + timedelta(hours=at))
        beat = (NOW - timedelta(seconds=5)).isoformat()
        status.set_status(session, key=StatusKey.WORKER_HEARTBEAT, value=beat, now=NOW)
        session.add(_portal(2, "west", PortalState.ACTIVE))
        session.add(_portal(0, "default", PortalState.BLOCKED, blocked_until=NOW))
        session.add(_portal(1, "east", PortalState.REMOVED))
        budget.take_request(session, name="bitrix:portal:2", now=1e9, burst=2, per_second=2.0)
        session.add_all(SurveyWaiting(portal=p, surveys=n) for p, n in ((0, 3), (2, 1), (2, -1)))
        session.add(EventPoll(bot_id=2_000_000_007, polled_at=NOW - timedelta(seconds=9)))
        session.add(EventPoll(bot_id=2_000_000_008))


def _each_alone(engine: Engine, now: datetime) -> Stored:
    """What each part's own reader reads, one statement each, in one transaction."""
    with reading(engine) as session:
        db = session.connection()
        beat = status.get_status(session, key=StatusKey.WORKER_HEARTBEAT)
        return Stored(
            pending=queue.pending_by_kind(db),
            oldest_due=queue.oldest_due(db, now=now),
            heartbeat=beat.value if beat else None,
            portals=portals.portal_facts(db),
            buckets={name: (tokens, at) for name, tokens, at in db.execute(budget.BUCKETS)},
            waiting=waiting.per_portal(db),
            answers=polling.last_answers(db),
        )


def _read_counting(engine: Engine, now: datetime) -> tuple[Stored, list[str]]:
    """The gauges' read, and the statements it sent (but SQLite's BEGIN of its snapshot)."""
    sent: list[str] = []
    with reading_one_statement(engine) as connection:
        event.listen(connection, "before_cursor_execute", lambda *a: sent.append(a[2]))
        return read_stored(connection, now=now), [s for s in sent if s != "BEGIN"]


def test_one_statement_reads_what_each_part_reads_alone(engine: Engine) -> None:
    empty, sent = _read_counting(engine, NOW)
    assert empty == _each_alone(engine, NOW)
    assert len(sent) == 1
    _fill(engine)
    for now in (NOW, NOW - timedelta(hours=4), NOW + timedelta(hours=3)):
        found, sent = _read_counting(engine, now)
        assert found == _each_alone(engine, now)
        assert len(sent) == 1
    assert found.oldest_due == NOW - timedelta(hours=3)
    assert [p.name for p in found.portals] == ["default", "east", "west"]
    assert found.waiting == {0: 3} and found.pending == {JobKind.INVITE: 2, JobKind.REMIND: 1}
    assert _read_counting(engine, NOW - timedelta(hours=4))[0].oldest_due is None


def test_postgresql_prepares_it_at_its_first_run_outside_a_transaction(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite prepares no statement on a server")
    engine.dispose()
    with reading_one_statement(engine) as connection:
        read_stored(connection, now=NOW)
        driver = connection.connection.driver_connection
        assert driver is not None
        # No BEGIN was sent: the read left no transaction to roll back.
        assert driver.info.transaction_status == pq.TransactionStatus.IDLE
        plans = text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE 'SELECT ''pending''%'"
        )
        # Prepared at its first run (PostgreSQL plans the first five runs of a prepared
        # statement for their parameters, then once for all).
        assert sum(connection.execute(plans).one()) == 1
    # The connection goes back to the pool preparing other statements at their fifth run.
    assert driver.prepare_threshold == 5
