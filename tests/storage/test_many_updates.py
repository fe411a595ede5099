"""Many rows changed in one UPDATE (`storage.survey.bulk.ManyUpdates`): a claim's leases and a
batch's recipients, each row its own values. On PostgreSQL the batch is one statement with one
set of parameters (an executemany ran the UPDATE once for each row on the server); on SQLite
the same UPDATE runs for each row. Either way each row gets its own values, and a row the
UPDATE's condition no longer holds for is left as it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import select

from storage import queue
from storage.db import reading, transaction
from storage.portals import SPAN
from storage.survey import surveys
from storage.tables import Job, JobKind, Survey, SurveyState

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


@pytest.fixture
def updates(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """Each UPDATE sent: its table, and whether it went as an executemany."""
    sent: list[tuple[str, bool]] = []

    def note(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        words = statement.split()
        if words[:1] == ["UPDATE"]:
            sent.append((words[1], many))

    event.listen(engine, "before_cursor_execute", note)
    yield sent
    event.remove(engine, "before_cursor_execute", note)


def _surveys(engine: Engine, count: int) -> list[int]:
    rows = [
        surveys.new_survey(
            token=f"t{i}",
            issue_id=900 + i,
            current_issue_id=900 + i,
            state=SurveyState.INVITING,
            language="ru",
            created_at=NOW,
            updated_at=NOW,
        )
        for i in range(count)
    ]
    with transaction(engine) as session:
        return sorted(surveys.open_surveys(session, rows).values())


def _one_statement(engine: Engine, sent: list[tuple[str, bool]], table: str) -> None:
    mine = [many for name, many in sent if name == table]
    assert len(mine) == 1
    if engine.dialect.name == "postgresql":
        assert mine == [False], "one statement with one set of parameters, not an executemany"


def test_a_claim_leases_each_job_its_own_token_in_one_statement(
    engine: Engine, updates: list[tuple[str, bool]]
) -> None:
    ids = _surveys(engine, 30)
    with transaction(engine) as session:
        queue.enqueue_many(session, kind=JobKind.INVITE, jobs=[(i, NOW) for i in ids])
    updates.clear()
    with transaction(engine) as session:
        claimed = queue.claim_jobs(session, now=NOW, lease=LEASE, limit=50, kinds=[JobKind.INVITE])
    _one_statement(engine, updates, "job")
    assert len(claimed) == 30
    with reading(engine) as session:
        stored = {job.id: job for job in session.exec(select(Job))}
    assert len({job.lease_token for job in claimed}) == 30
    for job in claimed:
        assert job.id is not None
        row = stored[job.id]
        assert row.lease_token == job.lease_token
        assert row.attempts == 1
        assert row.available_at == NOW + LEASE


def test_recipients_are_recorded_in_one_statement_and_never_overwritten(
    engine: Engine, updates: list[tuple[str, bool]]
) -> None:
    ids = _surveys(engine, 20)
    with transaction(engine) as session:
        surveys.set_recipients(session, recipients={ids[0]: 2 * SPAN + 7})
    updates.clear()
    with transaction(engine) as session:
        surveys.set_recipients(session, recipients={i: SPAN + i for i in ids})
    _one_statement(engine, updates, "survey")
    with reading(engine) as session:
        stored = {s.id: s for s in session.exec(select(Survey))}
    # The first survey's person was recorded before: it keeps them.
    assert (stored[ids[0]].bitrix_user_id, stored[ids[0]].portal) == (2 * SPAN + 7, 2)
    for i in ids[1:]:
        assert (stored[i].bitrix_user_id, stored[i].portal) == (SPAN + i, 1)
