"""The pending jobs by kind (/metrics' `jobs_pending`) are counted by triggers on `job`
(migration 0022), not at each scrape: the count stays that of the jobs themselves through a
job's whole life (queued, leased, extended, released, retried, finished, failed, revived,
purged, deleted), folded or not, and the upgrade counts the jobs already pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from storage import purge, queue
from storage.db import reading, transaction
from storage.migrate import alembic_config
from storage.reading import pending
from storage.tables import Job, JobKind, JobState

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def _counted(engine: Engine) -> dict[JobKind, int]:
    """The kept counts, read as /metrics reads them (on the connection), before and after a
    fold; checked against the jobs themselves."""
    with reading(engine) as session:
        kept = queue.pending_by_kind(session.connection())
        truth = {JobKind(k): int(n) for k, n in session.execute(queue.PENDING_BY_KIND).all()}
    with transaction(engine) as session:
        pending.fold(session)
    with reading(engine) as session:
        assert queue.pending_by_kind(session) == kept
        rows = session.execute(select(func.count()).select_from(pending.JobPending))
        assert rows.scalar_one() == len(kept)  # one per kind
    assert kept == truth
    return kept


def _claim(engine: Engine, kind: JobKind, limit: int = 10) -> list[tuple[int, str]]:
    with transaction(engine) as session:
        jobs = queue.claim_jobs(session, now=NOW, lease=LEASE, limit=limit, kinds=[kind])
        return [(job.id or 0, job.lease_token or "") for job in jobs]


def test_the_count_follows_each_job_through_its_life(engine: Engine) -> None:
    assert _counted(engine) == {}
    with transaction(engine) as session:
        for _ in range(4):
            queue.enqueue(session, kind=JobKind.INVITE, now=NOW)
        queue.enqueue(session, kind=JobKind.DIGEST, now=NOW)
        assert queue.enqueue_unless_pending(session, kind=JobKind.ALERT, now=NOW)
    assert _counted(engine) == {JobKind.INVITE: 4, JobKind.DIGEST: 1, JobKind.ALERT: 1}
    done, retried, failed, released = _claim(engine, JobKind.INVITE)  # leased: still pending
    with transaction(engine) as session:
        assert queue.extend_leases(session, lease_tokens=[done[1]], until=NOW + LEASE) == 1
        assert queue.release_jobs(session, lease_tokens=[released[1]], now=NOW) == 1
        assert queue.finish_jobs(session, leases={done[0]: done[1]}, now=NOW) == {done[0]}
        assert queue.retry_job(
            session, job_id=retried[0], lease_token=retried[1], run_at=NOW, error="x", now=NOW
        )
        assert queue.fail_job(session, job_id=failed[0], lease_token=failed[1], now=NOW, error="x")
    assert _counted(engine) == {JobKind.INVITE: 2, JobKind.DIGEST: 1, JobKind.ALERT: 1}
    with transaction(engine) as session:
        queue.revive_job(session, job_id=failed[0], now=NOW)
        # A pending job's kind changed, a pending one deleted, the finished ones purged.
        session.execute(update(Job).where(col(Job.id) == retried[0]).values(kind=JobKind.REMIND))
        session.execute(delete(Job).where(col(Job.kind) == JobKind.DIGEST))
        assert purge.purge_personal_data(session, finished_before=NOW + timedelta(days=1)) == 0
    assert _counted(engine) == {JobKind.INVITE: 2, JobKind.REMIND: 1, JobKind.ALERT: 1}
    with transaction(engine) as session:
        session.execute(update(Job).values(state=JobState.DONE, finished_at=NOW))
    assert _counted(engine) == {}
    with transaction(engine) as session:
        purge.purge_personal_data(session, finished_before=NOW + timedelta(days=1))
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0
    assert _counted(engine) == {}


def test_the_upgrade_counts_the_jobs_already_pending(engine: Engine, database_url: str) -> None:
    engine.dispose()
    config = alembic_config(database_url)
    command.downgrade(config, "0021")
    row = {"payload": "{}", "available_at": NOW, "created_at": NOW, "attempts": 0}
    rows = [
        {**row, "kind": kind, "state": state}
        for kind, state, count in (
            (JobKind.INVITE, JobState.PENDING, 3),
            (JobKind.REPLY, JobState.PENDING, 2),
            (JobKind.INVITE, JobState.DONE, 5),
            (JobKind.ALERT, JobState.FAILED, 1),
        )
        for _ in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(Job), rows)
    engine.dispose()
    command.upgrade(config, "head")
    assert _counted(engine) == {JobKind.INVITE: 3, JobKind.REPLY: 2}
    with transaction(engine) as session:
        queue.enqueue(session, kind=JobKind.REPLY, now=NOW)
    assert _counted(engine) == {JobKind.INVITE: 3, JobKind.REPLY: 3}
