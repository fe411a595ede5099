"""Running claimed jobs: load their surveys, make the vendor calls, settle the outcomes.

Whatever a job raises becomes an outcome (a bug or an unreadable vendor answer is retried
later, never dropped), and an outcome the database refuses is recorded again, never redone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bridge.config.settings import Settings
from bridge.outside.portals import route_companies
from bridge.outside.vendors import Vendors
from bridge.survey import asking, invitations, jobs
from bridge.team import posting
from bridge.worker import survey_jobs
from bridge.worker.settle import Settler, pass_backoff
from outbound.errors import DeliveryError, TransientError
from storage import queue
from storage.db import transaction
from storage.survey import messages as survey_messages
from storage.survey import surveys
from storage.tables import Job, JobKind, Survey, utcnow

log = logging.getLogger(__name__)


class JobRunner:
    """Runs one job, or one batch of invitations, to a settled outcome."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        vendors: Vendors,
        settler: Settler,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._vendors = vendors
        self._settler = settler
        self._clock = clock

    async def one(self, job: Job) -> None:
        """Run a job of any lane but invitations."""
        try:
            outcome = await self._run(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome = _as_delivery_error(exc, [job])
        await self._record([(job, outcome)])

    async def _run(self, job: Job) -> jobs.Outcome:
        if job.kind in posting.KINDS:
            # The team's chat: posted once, with the engine to mark the send (bridge.team).
            return await posting.run(
                job, self._engine, self._vendors, self._settings, self._clock()
            )
        survey, carrying = await asyncio.to_thread(self._load_survey, job)
        if job.kind in survey_jobs.KINDS:
            return await survey_jobs.run(job, survey, self._vendors, self._settings)
        still_ours = partial(asyncio.to_thread, self._keep_lease, job)
        return await jobs.run(job, survey, self._vendors, self._settings, carrying, still_ours)

    async def invites(self, claimed: list[Job]) -> None:
        """Run a batch of invitations: find the people, record them, send."""
        try:
            loaded = await asyncio.to_thread(self._load_surveys, claimed)
            written, routes = await asyncio.to_thread(self._before_asking, loaded)
            batch = await invitations.find_recipients(
                loaded, self._vendors, self._settings, written, routes
            )
            # Issue 10: the cooldown (the person is known now) and their language; the
            # recipients are recorded in the same transaction, before sending.
            await asyncio.to_thread(asking.before_sending, self._engine, self._settings, batch)
            outcomes = await invitations.send_invitations(batch, self._vendors)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcomes = [_as_delivery_error(exc, claimed)] * len(claimed)
        await self._record(list(zip(claimed, outcomes, strict=True)))

    def _load_survey(self, job: Job) -> tuple[Survey | None, Sequence[int]]:
        """The job's survey and, for a job closing its invitation, the messages that carry
        its buttons: read in one transaction."""
        if job.survey_id is None:
            return None, ()
        with transaction(self._engine) as session:
            survey = surveys.get_survey(session, survey_id=job.survey_id)
            if job.kind != JobKind.CLOSE_INVITATION:
                return survey, ()
            return survey, survey_messages.with_buttons(session, survey_id=job.survey_id)

    def _keep_lease(self, job: Job) -> bool:
        """Whether this worker still holds the job's lease (no other has claimed it since),
        kept for another lease if so: asked before a write that time may have passed before."""
        assert job.lease_token is not None
        until = self._clock() + self._settings.job_lease
        with transaction(self._engine) as session:
            return queue.extend_leases(session, lease_tokens=[job.lease_token], until=until) == 1

    def _load_surveys(self, claimed: list[Job]) -> list[Survey | None]:
        """The batch's surveys, read in one query."""
        ids = [job.survey_id for job in claimed if job.survey_id is not None]
        with transaction(self._engine) as session:
            found = {s.id: s for s in session.exec(select(Survey).where(col(Survey.id).in_(ids)))}
        return [None if job.survey_id is None else found.get(job.survey_id) for job in claimed]

    def _before_asking(
        self, loaded: list[Survey | None]
    ) -> tuple[dict[int, str], dict[int, int | str]]:
        """What our earlier surveys of these tickets left in Okdesk (a reopened ticket), and
        the portal each survey's company goes to (or why none), read in one transaction."""
        some = [survey for survey in loaded if survey is not None and survey.id is not None]
        with transaction(self._engine) as session:
            written = surveys.rates_written(session, issue_ids=[s.issue_id for s in some])
            routes = route_companies(session, [s.company_id for s in some])
        return written, {s.id: routes[s.company_id] for s in some if s.id is not None}

    async def _record(self, results: list[tuple[Job, jobs.Outcome]]) -> None:
        """Record outcomes; what the database refuses is recorded again, never redone."""
        failures = 0
        while results:
            results = await asyncio.to_thread(self._settler.settle, results)
            if results:
                failures += 1
                await asyncio.sleep(pass_backoff(failures))


def _as_delivery_error(exc: Exception, claimed: list[Job]) -> DeliveryError:
    if isinstance(exc, DeliveryError):
        return exc
    # A bug, or a vendor answer we could not read: keep the jobs and retry them later.
    log.error(
        "job.crashed job_ids=%s error=%s",
        [job.id for job in claimed],
        type(exc).__name__,
        exc_info=exc,
    )
    return TransientError(f"unexpected {type(exc).__name__}")


Checkpoint = Callable[[str], None]


def no_checkpoint(_point: str) -> None:
    """The production checkpoint: nothing happens between steps (tests inject faults here)."""
    return None
