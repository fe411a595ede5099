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

from bridge.rules import workflow
from bridge.survey.invitations import Invited
from bridge.survey.jobs import Effect
from bridge.worker.settle import Result, Settler
from harness.app import running_app
from harness.payloads import closed_webhook
from harness.vendors import Vendors, make_settings
from storage import queue
from storage.db import transaction
from storage.survey import messages, surveys
from storage.tables import Job, JobKind, JobState, SurveyState, utcnow
from tests.databases import jobs
from tests.databases import surveys as all_surveys

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
    """The writes to the job, survey and survey_message tables the engine's connections send
    (an executemany is one)."""
    sent: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split()[:3]
        if words[:1] == ["UPDATE"] and words[1] in ("job", "survey"):
            sent.append(f"UPDATE {words[1]}")
        elif words[:2] == ["INSERT", "INTO"] and words[2] in ("job", "survey", "survey_message"):
            sent.append(f"INSERT INTO {words[2]}")

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

    assert job_updates == ["UPDATE job"]
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


def _invited(job: Job, message_id: int) -> Invited:
    assert job.survey_id is not None
    user, survey_id = 1, job.survey_id
    return Invited(
        survey_id,
        user,
        message_id,
        sent=workflow.invited(survey_id, user_id=user, message_id=message_id, shown=None),
        late=workflow.invited_too_late(survey_id, user_id=user, message_id=message_id, shown=None),
    )


@pytest.mark.parametrize("reopen", [False, True])
async def test_a_batch_of_invitations_is_recorded_in_one_statement_of_each_kind(
    database_url: str, engine: Engine, vendors: Vendors, job_updates: list[str], reopen: bool
) -> None:
    claimed = await _claimed(database_url, engine, vendors, 30)
    reopened = claimed[7] if reopen else None
    if reopened is not None:
        # Reopened while its invitation was being sent.
        assert reopened.survey_id is not None
        change = workflow.reopened(reopened.survey_id, now=utcnow())
        with transaction(engine) as session:
            surveys.apply_change(session, change, now=utcnow())
    settler = Settler(engine, make_settings(database_url), utcnow, lambda point: None)
    job_updates.clear()

    results: list[Result] = [(job, _invited(job, 700 + i)) for i, job in enumerate(claimed)]
    assert settler.settle(results) == []

    # The batch's jobs, its messages and its surveys: one statement each. When one survey no
    # longer matched, the surveys' statement is undone and each is changed alone, the late
    # one twice (it failed, then the buttons it got are taken away: a job queued).
    undone = ["UPDATE survey"] * (30 + 1) + ["INSERT INTO job"] if reopen else []
    changed = ["UPDATE survey", *undone]
    assert job_updates == ["UPDATE job", "INSERT INTO survey_message", *changed]
    states = {s.id: (s.state, s.message_id) for s in all_surveys(engine)}
    for i, job in enumerate(claimed):
        expected = SurveyState.CANCELLED if job is reopened else SurveyState.AWAITING
        assert states[job.survey_id] == (expected, 700 + i)
    with transaction(engine) as session:
        for i, job in enumerate(claimed):
            assert job.survey_id is not None
            assert messages.with_buttons(session, survey_id=job.survey_id) == [700 + i]
    closing = [j.survey_id for j in jobs(engine) if j.kind == JobKind.CLOSE_INVITATION]
    # The reopening queued one, the late invitation another: its message has buttons again.
    assert closing == ([] if reopened is None else [reopened.survey_id] * 2)
