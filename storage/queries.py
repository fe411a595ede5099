"""Queries with intention-revealing names. None of them commits: the caller owns the transaction."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, delete, func, update
from sqlalchemy import select as select_columns
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.tables import (
    Job,
    JobKind,
    JobState,
    RequestBudget,
    SeenEvent,
    ServiceStatus,
    Survey,
    SurveyState,
)


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


# --- surveys -------------------------------------------------------------------------------


def new_survey_token() -> str:
    """An unguessable survey id for button parameters (96 random bits)."""
    return secrets.token_urlsafe(12)


def open_survey(session: Session, survey: Survey) -> int | None:
    """Insert `survey` as its ticket's current survey; None when the ticket already has one."""
    values = survey.model_dump(exclude={"id"})
    statement = (
        _insert(session, Survey)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["current_issue_id"])
        .returning(Survey.id)
    )
    row = session.execute(statement).first()
    return None if row is None else int(row[0])


def current_survey(session: Session, issue_id: int) -> Survey | None:
    """The survey of the ticket's latest closure, unless the ticket was reopened since."""
    return session.exec(select(Survey).where(Survey.current_issue_id == issue_id)).first()


def release_current(session: Session, survey_id: int, now: datetime) -> None:
    """Let the ticket's next closure open a new survey."""
    session.execute(
        update(Survey)
        .where(col(Survey.id) == survey_id)
        .values(current_issue_id=None, updated_at=now)
    )


def get_survey(session: Session, survey_id: int) -> Survey | None:
    """The survey with this id."""
    return session.get(Survey, survey_id)


def survey_by_token(session: Session, token: str) -> Survey | None:
    """The survey whose buttons carry `token`."""
    return session.exec(select(Survey).where(Survey.token == token)).first()


def latest_awaiting_survey(session: Session, bitrix_user_id: int) -> Survey | None:
    """The user's most recent survey that still waits for an answer."""
    statement = (
        select(Survey)
        .where(Survey.bitrix_user_id == bitrix_user_id, Survey.state == SurveyState.AWAITING)
        .order_by(col(Survey.created_at).desc(), col(Survey.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def move_survey(
    session: Session,
    survey_id: int,
    *,
    from_states: Iterable[SurveyState],
    values: dict[str, Any],
) -> bool:
    """Change the survey only if it is still in one of `from_states`; True when it changed.

    Every state change goes through here: of two racing changes exactly one matches the row.
    """
    result = session.execute(
        update(Survey)
        .where(col(Survey.id) == survey_id, col(Survey.state).in_(list(from_states)))
        .values(**values)
    )
    return _rowcount(result) == 1


def update_survey(session: Session, survey_id: int, values: dict[str, Any]) -> None:
    """Set fields of a survey whatever its state."""
    session.execute(update(Survey).where(col(Survey.id) == survey_id).values(**values))


def set_recipients(session: Session, recipients: dict[int, int]) -> None:
    """Record who each survey is about to be sent to (survey id → Bitrix24 user id)."""
    for survey_id, user_id in recipients.items():
        session.execute(
            update(Survey)
            .where(col(Survey.id) == survey_id, col(Survey.bitrix_user_id).is_(None))
            .values(bitrix_user_id=user_id)
        )


def due_for_timeout(session: Session, now: datetime, limit: int) -> Sequence[Survey]:
    """Surveys whose deadline passed (an index range scan: only due rows are read)."""
    statement = (
        select(Survey)
        .where(col(Survey.deadline_at) <= now)
        .order_by(col(Survey.deadline_at))
        .limit(limit)
    )
    return session.exec(statement).all()


_PURGED = {
    "issue_title": None,
    "engineer": None,
    "reply_text": None,
    "contact_id": None,
    "bitrix_user_id": None,
    "rated_by": None,
    # A vendor's error text may quote what it was sent (names, addresses).
    "reason": None,
    "personal_data_purged": True,
}


def purge_personal_data(session: Session, finished_before: datetime) -> int:
    """Forget names, texts and chat ids of surveys done for good before the cut-off.

    A failed survey is not done for good (an administrator may retry it), so it keeps what a
    retry needs. Each statement reads an index range, not the table.
    """
    finished = session.execute(
        update(Survey)
        .where(
            col(Survey.personal_data_purged).is_(False),
            col(Survey.finished_at) < finished_before,
            col(Survey.state) != SurveyState.FAILED,
        )
        .values(**_PURGED)
    )
    # Undeliverable surveys that get no default rating never "finish": they count from
    # their last change.
    stale = session.execute(
        update(Survey)
        .where(
            col(Survey.state) == SurveyState.UNDELIVERABLE,
            col(Survey.updated_at) < finished_before,
            col(Survey.personal_data_purged).is_(False),
            col(Survey.finished_at).is_(None),
            col(Survey.deadline_at).is_(None),
        )
        .values(**_PURGED)
    )
    # Finished jobs go (a reply's payload names its chat); failed ones stay for a retry.
    session.execute(
        delete(Job).where(col(Job.state) == JobState.DONE, col(Job.finished_at) < finished_before)
    )
    session.execute(delete(SeenEvent).where(col(SeenEvent.seen_at) < finished_before))
    return _rowcount(finished) + _rowcount(stale)


def failed_surveys(session: Session, limit: int) -> Sequence[Survey]:
    """The most recently failed surveys."""
    statement = (
        select(Survey)
        .where(Survey.state == SurveyState.FAILED)
        .order_by(col(Survey.updated_at).desc())
        .limit(limit)
    )
    return session.exec(statement).all()


def count_surveys_by_state(session: Session) -> dict[str, int]:
    """How many surveys are in each state."""
    rows = session.execute(
        select_columns(col(Survey.state), func.count()).group_by(Survey.state)
    ).all()
    return {str(state): int(count) for state, count in rows}


# --- jobs ----------------------------------------------------------------------------------


def enqueue(
    session: Session,
    kind: JobKind,
    now: datetime,
    *,
    survey_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Queue a job to run as soon as a worker is free."""
    session.add(
        Job(
            kind=kind,
            survey_id=survey_id,
            payload=json.dumps(payload or {}, ensure_ascii=False),
            available_at=now,
            created_at=now,
        )
    )


def claim_jobs(
    session: Session,
    now: datetime,
    lease: timedelta,
    limit: int,
    *,
    kinds: Sequence[JobKind],
) -> list[Job]:
    """Lease up to `limit` due jobs (queued ones, or leased ones whose lease expired).

    PostgreSQL skips rows another replica has locked; SQLite serialises writers with
    BEGIN IMMEDIATE, so a plain select-then-update is safe there.
    """
    statement = (
        select(Job)
        .where(col(Job.state) == JobState.PENDING, col(Job.available_at) <= now)
        .order_by(col(Job.available_at), col(Job.id))
        .limit(limit)
    )
    statement = statement.where(col(Job.kind).in_(list(kinds)))
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    jobs: list[Job] = list(session.exec(statement).all())
    for job in jobs:
        job.lease_token = secrets.token_hex(16)
        job.available_at = now + lease
        job.attempts += 1
    session.flush()
    return jobs


def _leased(job_id: int, lease_token: str) -> tuple[ColumnElement[bool], ...]:
    # A worker whose lease expired matches nothing: its late result changes no row.
    return (
        col(Job.id) == job_id,
        col(Job.lease_token) == lease_token,
        col(Job.state) == JobState.PENDING,
    )


def finish_job(session: Session, job_id: int, lease_token: str, now: datetime) -> bool:
    """Mark a leased job done; False when the lease was lost (another worker took over)."""
    result = session.execute(
        update(Job)
        .where(*_leased(job_id, lease_token))
        .values(
            state=JobState.DONE,
            lease_token=None,
            finished_at=now,
            last_error=None,
            failing_since=None,
        )
    )
    return _rowcount(result) == 1


def retry_job(
    session: Session, job_id: int, lease_token: str, run_at: datetime, error: str, now: datetime
) -> bool:
    """Give a leased job back to the queue, to run again at `run_at`."""
    result = session.execute(
        update(Job)
        .where(*_leased(job_id, lease_token))
        .values(
            available_at=run_at,
            lease_token=None,
            last_error=error,
            failing_since=func.coalesce(Job.failing_since, now),
        )
    )
    return _rowcount(result) == 1


def fail_job(session: Session, job_id: int, lease_token: str, now: datetime, error: str) -> bool:
    """Stop retrying a leased job."""
    result = session.execute(
        update(Job)
        .where(*_leased(job_id, lease_token))
        .values(state=JobState.FAILED, lease_token=None, finished_at=now, last_error=error)
    )
    return _rowcount(result) == 1


def erase_payload(session: Session, job_id: int) -> None:
    """Forget what a job carried (a secret it no longer needs)."""
    session.execute(update(Job).where(col(Job.id) == job_id).values(payload="{}"))


def extend_leases(session: Session, lease_tokens: Iterable[str], until: datetime) -> int:
    """Keep jobs this worker is still running from being taken over; how many were kept."""
    tokens = list(lease_tokens)
    if not tokens:
        return 0
    result = session.execute(
        update(Job)
        .where(col(Job.lease_token).in_(tokens), col(Job.state) == JobState.PENDING)
        .values(available_at=until)
    )
    return _rowcount(result)


def release_jobs(session: Session, lease_tokens: Iterable[str], now: datetime) -> int:
    """Hand leased jobs back at once (a graceful stop), without counting the try."""
    tokens = list(lease_tokens)
    if not tokens:
        return 0
    result = session.execute(
        update(Job)
        .where(col(Job.lease_token).in_(tokens), col(Job.state) == JobState.PENDING)
        .values(available_at=now, lease_token=None, attempts=Job.attempts - 1)
    )
    return _rowcount(result)


def failed_jobs(session: Session) -> Sequence[Job]:
    """Jobs that were given up on."""
    return session.exec(select(Job).where(col(Job.state) == JobState.FAILED)).all()


def revive_job(session: Session, job_id: int, now: datetime) -> None:
    """Queue a failed job again with a fresh retry budget."""
    session.execute(
        update(Job)
        .where(col(Job.id) == job_id)
        .values(
            state=JobState.PENDING,
            available_at=now,
            created_at=now,
            failing_since=None,
            attempts=0,
            finished_at=None,
            lease_token=None,
        )
    )


def count_jobs_by_state(session: Session) -> dict[str, int]:
    """How many jobs are in each state."""
    rows = session.execute(select_columns(col(Job.state), func.count()).group_by(Job.state)).all()
    return {str(state): int(count) for state, count in rows}


# --- inbound events, status, request budget ------------------------------------------------


def first_sighting(session: Session, key: str, now: datetime) -> bool:
    """Record an inbound event key; False when it was seen before (a replay)."""
    statement = (
        _insert(session, SeenEvent)
        .values(key=key, seen_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(SeenEvent.key)
    )
    # RETURNING rather than rowcount: psycopg reports -1 for INSERT .. ON CONFLICT here.
    return session.execute(statement).first() is not None


def set_status(session: Session, key: str, value: str, now: datetime) -> None:
    """Store a named fact about the service."""
    statement = _insert(session, ServiceStatus).values(key=key, value=value, updated_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_at": now}
    )
    session.execute(statement)


def first_status(session: Session, key: str, value: str, now: datetime) -> str:
    """Store a named fact unless one is stored already; the stored value either way."""
    session.execute(
        _insert(session, ServiceStatus)
        .values(key=key, value=value, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    stored = session.get(ServiceStatus, key, populate_existing=True)
    assert stored is not None
    return stored.value


def clear_status(session: Session, key: str) -> None:
    """Forget a named fact about the service."""
    session.execute(delete(ServiceStatus).where(col(ServiceStatus.key) == key))


def get_status(session: Session, key: str, *, for_update: bool = False) -> ServiceStatus | None:
    """A named fact about the service, if recorded (locked for this transaction if asked)."""
    return session.get(ServiceStatus, key, with_for_update=for_update or None)


def take_request(session: Session, name: str, now: float, burst: int, per_second: float) -> float:
    """Take one request from a shared leaky bucket: 0 when granted, else seconds to wait."""
    query = select(RequestBudget).where(RequestBudget.name == name)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    budget = session.exec(query).first()
    if budget is None:
        session.execute(
            _insert(session, RequestBudget)
            .values(name=name, tokens=float(burst), refilled_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        budget = session.exec(query).first()
    assert isinstance(budget, RequestBudget)
    tokens = min(float(burst), budget.tokens + max(0.0, now - budget.refilled_at) * per_second)
    if tokens >= 1.0:
        budget.tokens, budget.refilled_at = tokens - 1.0, now
        session.flush()
        return 0.0
    return (1.0 - tokens) / per_second


def pending_work(session: Session) -> bool:
    """Whether any job is still pending."""
    statement = select_columns(col(Job.id)).where(col(Job.state) == JobState.PENDING).limit(1)
    return session.execute(statement).first() is not None
