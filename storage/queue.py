"""The queue of outgoing work (an outbox): jobs are queued in the transaction that decided
them, leased by one worker at a time, and finished, retried or failed under their lease. None
of these commits: the caller owns the transaction."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, text, tuple_, update
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from storage.portals import job_portal, with_job_portal
from storage.reading import pending
from storage.sql import rowcount
from storage.survey.bulk import ManyRows, ManyUpdates
from storage.tables import Job, JobKind, JobState, Survey

_JOBS = Job.__table__  # type: ignore[attr-defined]
# The claimed jobs' leases, each its own token, in one statement (`ManyUpdates`).
_LEASES = ManyUpdates(
    _JOBS,
    "id",
    ["lease_token"],
    values={"available_at": bindparam("until"), "attempts": _JOBS.c.attempts + 1},
)
_INSERT_JOBS = ManyRows(
    Job.__table__,  # type: ignore[attr-defined]
    ["kind", "survey_id", "payload", "state", "available_at", "attempts", "created_at"],
)


def enqueue(
    session: Session,
    *,
    kind: JobKind,
    now: datetime,
    survey_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Queue a job to run as soon as a worker is free."""
    _insert_jobs(session, [_job_row(kind, now, survey_id, payload)])


def enqueue_unless_pending(
    session: Session, *, kind: JobKind, now: datetime, payload: dict[str, Any] | None = None
) -> bool:
    """Queue a job of `kind` with no survey unless one with this payload is pending already;
    whether queued."""
    carried = json.dumps(payload or {}, ensure_ascii=False)
    statement = select_columns(col(Job.id)).where(
        col(Job.kind) == kind, col(Job.state) == JobState.PENDING, col(Job.payload) == carried
    )
    if session.execute(statement.limit(1)).first() is not None:
        return False
    enqueue(session, kind=kind, now=now, payload=payload)
    return True


def enqueue_many(session: Session, *, kind: JobKind, jobs: Sequence[tuple[int, datetime]]) -> None:
    """Queue one job of `kind` per (survey id, when), in one statement."""
    _insert_jobs(session, [_job_row(kind, now, survey_id, None) for survey_id, now in jobs])


def _job_row(
    kind: JobKind, now: datetime, survey_id: int | None, payload: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "kind": kind,
        "survey_id": survey_id,
        "payload": json.dumps(payload or {}, ensure_ascii=False),
        "state": JobState.PENDING,
        "available_at": now,
        "attempts": 0,
        "created_at": now,
    }


def _insert_jobs(session: Session, rows: list[dict[str, Any]]) -> None:
    # Written at once with one cached statement (an ORM object would cost a flush each time);
    # what the session still holds is flushed first, so a survey added to it exists for the FK.
    if rows:
        session.flush()
        _INSERT_JOBS.execute(session.connection(), rows)


def claim_jobs(
    session: Session,
    *,
    now: datetime,
    lease: timedelta,
    limit: int,
    kinds: Sequence[JobKind],
    portal: int | None = None,
) -> list[Job]:
    """Lease up to `limit` due jobs (queued ones, or leased ones whose lease expired), of one
    portal's when `portal` is given (`storage.portals.job_portal`). PostgreSQL skips rows
    another replica has locked; SQLite serialises writers (BEGIN IMMEDIATE)."""
    skip_locked = session.get_bind().dialect.name == "postgresql"
    statement = _due(tuple(sorted(set(kinds))), portal is not None, skip_locked)
    params = {"now": now, "limit": limit, "portal": portal, "skip": 0}
    jobs = [Job(**row._mapping) for row in session.connection().execute(statement, params)]
    for job in jobs:
        job.lease_token, job.available_at = secrets.token_hex(16), now + lease
        job.attempts += 1
    leases = [{"id": job.id, "lease_token": job.lease_token} for job in jobs]
    _LEASES.execute(session.connection(), leases, until=now + lease)
    return jobs


@cache
def _due(kinds: tuple[JobKind, ...], by_portal: bool, skip_locked: bool) -> Any:
    """The claim's SELECT of one shape, built once: building it cost more than running it."""
    statement = (
        select_columns(_JOBS)
        .where(_JOBS.c.state == JobState.PENDING, _JOBS.c.available_at <= bindparam("now"))
        .where(_JOBS.c.kind.in_(kinds))
        .order_by(_JOBS.c.available_at, _JOBS.c.id)
        .limit(bindparam("limit"))
        .offset(bindparam("skip"))
    )
    if by_portal:
        statement = with_job_portal(statement).where(job_portal() == bindparam("portal"))
    return statement.with_for_update(skip_locked=True, of=_JOBS) if skip_locked else statement


def due_beyond(
    session: Session, *, now: datetime, kinds: Sequence[JobKind], portal: int | None, skip: int
) -> bool:
    """Whether more than `skip` jobs of these kinds (of one portal's, when given) are due."""
    due = _due(tuple(sorted(set(kinds))), portal is not None, False)
    params = {"now": now, "limit": 1, "portal": portal, "skip": skip}
    return session.connection().execute(due, params).first() is not None


def _leased(job_id: int, lease: str) -> tuple[ColumnElement[bool], ...]:
    # A worker whose lease expired matches nothing: its late result changes no row.
    return col(Job.id) == job_id, col(Job.lease_token) == lease, col(Job.state) == JobState.PENDING


# Built once (see `storage.survey.surveys._CURRENT`): a batch's outcomes finish their jobs in
# one statement (one per job cost a round trip each on PostgreSQL).
_FINISH = (
    update(_JOBS)
    .where(tuple_(_JOBS.c.id, _JOBS.c.lease_token).in_(bindparam("leases", expanding=True)))
    .where(_JOBS.c.state == JobState.PENDING)
    .values(state=JobState.DONE, lease_token=None, finished_at=bindparam("now"))
    .values(last_error=None, failing_since=None)
    .returning(_JOBS.c.id)
)


def finish_jobs(session: Session, *, leases: Mapping[int, str], now: datetime) -> set[int]:
    """Mark leased jobs (id → lease token) done; the ids finished (not those whose lease was
    lost: another worker took them over)."""
    if not leases:
        return set()
    found = session.connection().execute(_FINISH, {"leases": list(leases.items()), "now": now})
    return {int(job_id) for (job_id,) in found}


def retry_job(
    session: Session, *, job_id: int, lease_token: str, run_at: datetime, error: str, now: datetime
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
    return rowcount(result) == 1


def fail_job(session: Session, *, job_id: int, lease_token: str, now: datetime, error: str) -> bool:
    """Stop retrying a leased job."""
    result = session.execute(
        update(Job)
        .where(*_leased(job_id, lease_token))
        .values(state=JobState.FAILED, lease_token=None, finished_at=now, last_error=error)
    )
    return rowcount(result) == 1


def erase_payload(session: Session, *, job_id: int) -> None:
    """Forget what a job carried (a secret it no longer needs)."""
    session.execute(update(Job).where(col(Job.id) == job_id).values(payload="{}"))


def extend_leases(session: Session, *, lease_tokens: Iterable[str], until: datetime) -> int:
    """Keep jobs this worker is still running from being taken over; how many were kept."""
    tokens = list(lease_tokens)
    if not tokens:
        return 0
    result = session.execute(
        update(Job)
        .where(col(Job.lease_token).in_(tokens), col(Job.state) == JobState.PENDING)
        .values(available_at=until)
    )
    return rowcount(result)


def release_jobs(session: Session, *, lease_tokens: Iterable[str], now: datetime) -> int:
    """Hand leased jobs back at once (a graceful stop), without counting the try."""
    tokens = list(lease_tokens)
    if not tokens:
        return 0
    result = session.execute(
        update(Job)
        .where(col(Job.lease_token).in_(tokens), col(Job.state) == JobState.PENDING)
        .values(available_at=now, lease_token=None, attempts=Job.attempts - 1)
    )
    return rowcount(result)


def failed_jobs(session: Session) -> Sequence[Job]:
    """Jobs that were given up on."""
    return session.exec(select(Job).where(col(Job.state) == JobState.FAILED)).all()


def revive_job(session: Session, *, job_id: int, now: datetime) -> None:
    """Queue a failed job again with a fresh retry budget."""
    session.execute(
        update(Job)
        .where(col(Job.id) == job_id)
        .values(state=JobState.PENDING, available_at=now, created_at=now, attempts=0)
        .values(failing_since=None, finished_at=None, lease_token=None)
    )


def count_jobs_by_state(session: Session) -> dict[str, int]:
    """How many jobs are in each state."""
    rows = session.execute(select_columns(col(Job.state), func.count()).group_by(Job.state)).all()
    return {str(state): int(count) for state, count in rows}


# The condition of `ix_job_pending` in its own words: SQLite (and PostgreSQL's generic plan)
# reads a partial index only for a query that says what its condition says. Read from that
# index alone: after ANALYZE SQLite scanned every job ever kept instead (166 ms with a million
# surveys). /metrics reads the counts triggers keep (`pending_by_kind`); this count is theirs
# to agree with (from the index alone, 10,000 pending jobs took 2.3 ms).
PENDING = text("job.state = 'pending'")
PENDING_BY_KIND = select_columns(col(Job.kind), func.count()).where(PENDING).group_by(col(Job.kind))


OLDEST_DUE = (
    select_columns(col(Job.available_at))
    .where(PENDING, col(Job.available_at) <= bindparam("now"))
    .order_by(col(Job.available_at))
    .limit(1)
)


def pending_by_kind(reader: Session | Connection) -> dict[JobKind, int]:
    """How many jobs are pending (queued or leased), by kind; kinds with none are absent: the
    counts triggers keep (`storage.reading.pending`), the same as `PENDING_BY_KIND` counts."""
    return pending.per_kind(reader)


def oldest_due(reader: Session | Connection, *, now: datetime) -> datetime | None:
    """When the longest-waiting due job became due (a leased job is not due), if any is."""
    # The first entry of `ix_job_due` past the pending ones' start: O(log n), where min()
    # over the range walked every due job.
    return reader.execute(OLDEST_DUE, {"now": now}).scalar_one_or_none()


def has_pending(session: Session, *, survey_id: int, kind: JobKind) -> bool:
    """Whether a job of `kind` for the survey is queued or running."""
    statement = select(Job.id).where(
        col(Job.survey_id) == survey_id, col(Job.kind) == kind, col(Job.state) == JobState.PENDING
    )
    return session.exec(statement.limit(1)).first() is not None


def queued_since(
    session: Session, *, kind: JobKind, since: datetime, bitrix_user_id: int | None = None
) -> int:
    """Jobs of `kind` queued since `since`: all, or for the surveys of one Bitrix24 user."""
    query = (
        select_columns(func.count())
        .select_from(Job)
        .where(col(Job.kind) == kind, col(Job.created_at) >= since)
    )
    if bitrix_user_id is not None:
        query = query.join(Survey, col(Survey.id) == col(Job.survey_id)).where(
            col(Survey.bitrix_user_id) == bitrix_user_id
        )
    return int(session.execute(query).scalar_one())
