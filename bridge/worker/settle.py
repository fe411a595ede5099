"""Settling a job's outcome: record what it did, try it again later, or give it up.

A batch's outcomes are recorded in one transaction, under each job's lease; if the database
refuses it, each is recorded in a transaction of its own. A database error while recording one
outcome leaves the others recorded and is handed back to the caller to record again: a call
that reached a vendor is never made twice because a neighbour failed.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot.errors import PortalBlockedError
from bridge.config.settings import Settings
from bridge.rules import workflow
from bridge.survey import jobs
from bridge.survey.invitations import Invited
from bridge.worker.scheduling import CHAT_LANE, LANES
from outbound.errors import DeliveryError, TransientError
from storage import portals, queue, status
from storage.db import transaction
from storage.survey import surveys
from storage.tables import Job, JobKind

log = logging.getLogger(__name__)

Result = tuple[Job, jobs.Outcome]
# Every job that calls Bitrix24 (the chat lane and the invitations): its success lifts a
# portal block (issue 22: the reminder's did not, as the list was written out by hand).
BITRIX_KINDS = frozenset({JobKind.INVITE, *LANES[CHAT_LANE]})
# Jobs whose payload holds a secret (a person's access token): erased once the job ends.
SECRET_PAYLOADS = frozenset({JobKind.VERIFY_REPLY, JobKind.VERIFY_FOLLOWUP})


class Settler:
    """Records outcomes of jobs run by one worker."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Callable[[], datetime],
        checkpoint: Callable[[str], None],
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._checkpoint = checkpoint
        self.done: Counter[str] = Counter()

    def settle(self, results: list[Result]) -> list[Result]:
        """Record each outcome; returns those the database could not take (to retry).

        A batch is recorded in one transaction; if the database refuses it, each outcome is
        recorded in a transaction of its own, so one refusal never holds up the others.
        """
        if len(results) > 1:
            try:
                self._record(results)
                return []
            except SQLAlchemyError as exc:
                log.warning(
                    "job.record_batch_failed jobs=%s error=%s: recorded one by one",
                    len(results),
                    type(exc).__name__,
                )
        unsettled = []
        for job, outcome in results:
            try:
                self._record([(job, outcome)])
            except SQLAlchemyError as exc:
                log.error(
                    "job.record_failed job_id=%s kind=%s error=%s",
                    job.id,
                    job.kind,
                    type(exc).__name__,
                )
                unsettled.append((job, outcome))
        return unsettled

    def _record(self, results: list[Result]) -> None:
        """Record outcomes in one transaction; what each did is told once it is committed."""
        now = self._clock()
        for _, outcome in results:
            if not isinstance(outcome, TransientError | DeliveryError):
                self._checkpoint("after_vendor_call")
        with transaction(self._engine) as session:
            batch = Batch.begin(session, results, now)
            told = [self._settle_one(session, job, outcome, now, batch) for job, outcome in results]
            Invited.record_all(session, now, batch.invited)
        for tell in told:
            tell()

    def _settle_one(
        self, session: Session, job: Job, outcome: jobs.Outcome, now: datetime, batch: Batch
    ) -> Callable[[], None]:
        if isinstance(outcome, TransientError):
            return self._retry(session, job, outcome, now)
        if isinstance(outcome, DeliveryError):
            return self._fail(session, job, str(outcome), now)
        return self._finish(session, job, outcome, now, batch)

    def _finish(
        self, session: Session, job: Job, effect: jobs.Effect, now: datetime, batch: Batch
    ) -> Callable[[], None]:
        assert job.id is not None and job.lease_token is not None
        if not batch.finish(session, job, now):
            return partial(log.warning, "job.lease_lost job_id=%s kind=%s", job.id, job.kind)
        if job.kind in SECRET_PAYLOADS:
            queue.erase_payload(session, job_id=job.id)
        if isinstance(effect, Invited) and job.id in batch.together:
            batch.invited.append(effect)  # recorded together once all are finished
        else:
            effect(session, now)
        blocked = batch.blocked
        if job.kind in BITRIX_KINDS and blocked:
            # Bitrix24 answered: whatever blocked this portal has lifted.
            number = portals.portal_of_job(session, job=job)
            if number in blocked and status.unblocked(session, number=number, now=now):
                blocked.discard(number)
                log.warning("bitrix.portal_unblocked portal=%s", number)
        # Counted once committed: a refused commit is settled again.
        return partial(self._count, f"{job.kind} done")

    def _count(self, what: str) -> None:
        self.done[what] += 1

    def _retry(
        self, session: Session, job: Job, error: TransientError, now: datetime
    ) -> Callable[[], None]:
        assert job.id is not None and job.lease_token is not None
        if isinstance(error, PortalBlockedError):
            return self._wait_for_unblock(session, job, error, now)
        delay = backoff_seconds(
            job.attempts,
            self._settings.retry_base.total_seconds(),
            self._settings.retry_cap.total_seconds(),
            error.retry_after,
        )
        run_at = now + timedelta(seconds=delay)
        failing_since = job.failing_since or now
        if run_at - failing_since > self._settings.retry_give_up_after:
            return self._fail(session, job, f"gave up after {job.attempts} tries: {error}", now)
        queue.retry_job(
            session,
            job_id=job.id,
            lease_token=job.lease_token,
            run_at=run_at,
            error=str(error),
            now=now,
        )

        def tell() -> None:
            self._count(f"{job.kind} retried")
            log.info(
                "job.retry job_id=%s kind=%s attempt=%s in=%.1fs error=%s",
                job.id,
                job.kind,
                job.attempts,
                delay,
                error,
            )

        return tell

    def _wait_for_unblock(
        self, session: Session, job: Job, error: TransientError, now: datetime
    ) -> Callable[[], None]:
        """Bitrix24 blocked the portal by hand: no give-up time runs, one probe at a time."""
        assert job.id is not None and job.lease_token is not None
        probe_at = now + self._settings.bitrix_block_probe_interval
        number = portals.portal_of_job(session, job=job)
        first = status.blocked(session, number=number, probe_at=probe_at, now=now)
        queue.retry_job(
            session,
            job_id=job.id,
            lease_token=job.lease_token,
            run_at=probe_at,
            error=str(error),
            now=now,
        )
        return partial(
            log.log,
            logging.ERROR if first else logging.INFO,
            "bitrix.portal_blocked portal=%s error=%s: Bitrix24 blocked the portal "
            "(OVERLOAD_LIMIT); nothing is sent there until it lifts, next probe at %s",
            number,
            error,
            probe_at.isoformat(),
        )

    def _fail(self, session: Session, job: Job, error: str, now: datetime) -> Callable[[], None]:
        assert job.id is not None and job.lease_token is not None
        if not queue.fail_job(
            session, job_id=job.id, lease_token=job.lease_token, now=now, error=error
        ):
            return _nothing
        if job.kind in SECRET_PAYLOADS:
            queue.erase_payload(session, job_id=job.id)
        change = (
            None
            if job.survey_id is None
            else workflow.given_up(job.survey_id, job=job.kind, error=error, now=now)
        )
        if change is not None:
            # Only the state the job served: a defaulted survey whose invitation failed
            # stays defaulted.
            surveys.apply_change(session, change, now=now)

        def tell() -> None:
            self._count(f"{job.kind} failed")
            log.error(
                "job.failed job_id=%s kind=%s survey_id=%s error=%s",
                job.id,
                job.kind,
                job.survey_id,
                error,
            )

        return tell


def _nothing() -> None:
    return None


@dataclass
class Batch:
    """What recording a batch knows: the portals blocked (read once: a job's portal is looked
    up only while some portal is), and the jobs finished so far. Those of a survey no other job
    of the batch is of are finished together, before any effect is applied: an effect looks at
    its own survey's jobs only (`queue.has_pending`), so it sees the same. Two jobs of one
    survey, or a job of none, are finished each right before its effect, as they ran."""

    blocked: set[int]
    together: set[int]
    finished: set[int]
    # The invitations of the jobs finished together, recorded together (`Invited.record_all`).
    invited: list[Invited] = field(default_factory=list)

    @classmethod
    def begin(cls, session: Session, results: list[Result], now: datetime) -> Batch:
        apart = Counter(job.survey_id for job, _ in results)
        leases = {
            job.id: job.lease_token
            for job, outcome in results
            if not isinstance(outcome, TransientError | DeliveryError)
            and job.survey_id is not None
            and apart[job.survey_id] == 1
            and job.id is not None
            and job.lease_token is not None
        }
        finished = queue.finish_jobs(session, leases=leases, now=now)
        return cls(status.blocked_portals(session), set(leases), finished)

    def finish(self, session: Session, job: Job, now: datetime) -> bool:
        """Whether the job is finished under its lease (False: the lease was lost)."""
        assert job.id is not None and job.lease_token is not None
        if job.id not in self.together:
            leases = {job.id: job.lease_token}
            self.finished |= queue.finish_jobs(session, leases=leases, now=now)
        return job.id in self.finished


def backoff_seconds(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Full-jitter exponential backoff, never sooner than the vendor's Retry-After."""
    # The exponent is bounded so that thousands of tries cannot overflow a float.
    ceiling = min(cap, base * 2 ** min(max(0, attempt - 1), 60))
    wait = (rng or random).uniform(0, ceiling)
    if retry_after is not None:
        wait = max(wait, min(retry_after, cap))
    return wait


# After a failed pass (or a refused record) the worker waits 0.5 s, doubling up to 30 s.
PASS_BACKOFF_BASE = 0.5
PASS_BACKOFF_CAP = 30.0


def pass_backoff(failures: int) -> float:
    """Seconds to wait after `failures` database failures in a row: 0.5 s doubling to 30 s."""
    return min(PASS_BACKOFF_CAP, PASS_BACKOFF_BASE * 2.0 ** min(failures - 1, 10))
