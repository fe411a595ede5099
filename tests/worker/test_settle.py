"""Recording a batch's outcomes: the jobs of different surveys are finished in one statement,
a job whose lease was lost stays its new holder's and its effect is not applied, and two jobs
of one survey are finished each right before its effect, as they ran (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bridge.survey.jobs import Effect
from bridge.worker.settle import Result, Settler
from harness.app import running_app
from harness.payloads import closed_webhook
from harness.vendors import Vendors, make_settings
from storage import queue
from storage.db import transaction
from storage.tables import Job, JobKind, JobState, utcnow
from tests.databases import jobs

pytestmark = pytest.mark.anyio
LEASE = timedelta(minutes=2)


async def _claimed(database_url: str, engine: Engine, vendors: Vendors, n: int) -> list[Job]:
    """`n` invitation jobs of `n` surveys, leased by this worker."""
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        for issue_id in range(9001, 9001 + n):
            await app.webhook(closed_webhook(issue_id))
    with transaction(engine) as session:
        claimed = queue.claim_jobs(
            session, now=utcnow(), lease=LEASE, limit=n, kinds=[JobKind.INVITE]
        )
    assert len(claimed) == n
    return claimed


def _seen(seen: list[tuple[int, bool]], job: Job) -> Effect:
    """An effect noting whether its survey still had an invitation pending when applied."""

    def effect(session: Session, _now: datetime) -> None:
        assert job.survey_id is not None
        pending = queue.has_pending(session, survey_id=job.survey_id, kind=JobKind.INVITE)
        seen.append((int(job.id or 0), pending))

    return effect


@pytest.fixture
def job_updates(engine: Engine) -> Iterator[list[str]]:
    """The UPDATE statements of the job table the engine's connections send."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE JOB "):
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    yield sent
    event.remove(engine, "before_cursor_execute", note)


async def test_a_batch_of_different_surveys_is_finished_in_one_statement(
    database_url: str, engine: Engine, vendors: Vendors, job_updates: list[str]
) -> None:
    claimed = await _claimed(database_url, engine, vendors, 30)
    seen: list[tuple[int, bool]] = []
    settler = Settler(engine, make_settings(database_url), utcnow, lambda point: None)
    job_updates.clear()

    assert settler.settle([(job, _seen(seen, job)) for job in claimed]) == []

    assert len(job_updates) == 1
    assert {j.state for j in jobs(engine)} == {JobState.DONE}
    # Each effect saw its own job done, as when each job was finished before its effect.
    assert seen == [(job.id, False) for job in claimed]
    assert settler.done == {"invite done": 30}


async def test_a_job_whose_lease_was_lost_stays_its_new_holders(
    database_url: str, engine: Engine, vendors: Vendors, caplog: pytest.LogCaptureFixture
) -> None:
    claimed = await _claimed(database_url, engine, vendors, 3)
    lost = claimed[1]
    with transaction(engine) as session:
        # Another worker took the job over: its lease is another now.
        session.execute(update(Job).where(col(Job.id) == lost.id).values(lease_token="theirs"))
    seen: list[tuple[int, bool]] = []
    settler = Settler(engine, make_settings(database_url), utcnow, lambda point: None)

    assert settler.settle([(job, _seen(seen, job)) for job in claimed]) == []

    states = {j.id: (j.state, j.lease_token) for j in jobs(engine)}
    assert states[lost.id] == (JobState.PENDING, "theirs")
    assert [states[j.id][0] for j in (claimed[0], claimed[2])] == [JobState.DONE] * 2
    assert [job_id for job_id, _ in seen] == [claimed[0].id, claimed[2].id]
    assert f"job.lease_lost job_id={lost.id}" in caplog.text


async def test_two_jobs_of_one_survey_are_finished_each_before_its_effect(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    (invite,) = await _claimed(database_url, engine, vendors, 1)
    with transaction(engine) as session:
        queue.enqueue(session, kind=JobKind.INVITE, now=utcnow(), survey_id=invite.survey_id)
        (second,) = queue.claim_jobs(
            session, now=utcnow(), lease=LEASE, limit=1, kinds=[JobKind.INVITE]
        )
    seen: list[tuple[int, bool]] = []
    settler = Settler(engine, make_settings(database_url), utcnow, lambda point: None)
    results: list[Result] = [(invite, _seen(seen, invite)), (second, _seen(seen, second))]

    assert settler.settle(results) == []

    # The first effect saw the second job still pending, as it was when they ran one by one.
    assert seen == [(invite.id, True), (second.id, False)]
    assert {j.state for j in jobs(engine)} == {JobState.DONE}
