"""The worker: claims due jobs, runs them, retries what failed for a while, applies timeouts.

It runs inside the service (started by the app's lifespan) or alone:
`python -m bridge.worker` runs until SIGTERM, `python -m bridge.worker --once` drains what is
due and exits (for cron). Several workers on one PostgreSQL never run the same job at once:
jobs are leased (`FOR UPDATE SKIP LOCKED`), and a lease that runs out frees the job for others.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from bot.client import BATCH_LIMIT, BitrixClient
from bot.messenger import ImbotMessenger
from bridge import jobs, service
from bridge.logs import setup_logging
from bridge.okdesk.client import OkdeskClient
from bridge.ratelimit import SharedRequestBudget
from bridge.reconcile import reconcile
from bridge.settings import Settings, settings_or_exit
from bridge.settle import Settler
from outbound.errors import DeliveryError, TransientError
from storage import queries
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade_or_exit
from storage.tables import Job, JobKind, Survey, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=5)
# After a failed pass the worker waits 0.5 s, doubling up to 30 s, then tries again.
PASS_BACKOFF_BASE = 0.5
PASS_BACKOFF_CAP = 30.0
CHAT_LANE = "bitrix24"
LANES: dict[str, list[JobKind]] = {
    "okdesk": [JobKind.SEND_RATING],
    CHAT_LANE: [JobKind.CLOSE_INVITATION, JobKind.REPLY, JobKind.VERIFY_REPLY],
}
PURGE_EVERY = timedelta(hours=1)


@asynccontextmanager
async def open_vendors(
    settings: Settings, engine: Engine, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[jobs.Vendors]:
    """Clients for Okdesk and Bitrix24 around one long-lived HTTP client."""
    timeout = settings.http_timeout.total_seconds()
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, transport=transport
    ) as http:
        # A request is counted when it leaves, but reaches the portal a little later: keep
        # a 10% margin below the portal's limit so that jitter on the way never exceeds it.
        budget = SharedRequestBudget(
            engine,
            f"bitrix:{settings.portal_domain}",
            max(1, int(settings.bitrix_burst * 0.9)),
            settings.bitrix_requests_per_second * 0.9,
        )
        bitrix = BitrixClient(
            http,
            settings.bitrix_webhook_url,
            settings.bitrix_client_id.get_secret_value(),
            budget,
        )
        yield jobs.Vendors(
            okdesk=OkdeskClient(
                http, settings.okdesk_url, settings.okdesk_api_token.get_secret_value()
            ),
            bitrix=bitrix,
            chat=ImbotMessenger(bitrix, settings.bitrix_bot_code, settings.bitrix_bot_id),
        )


class Worker:
    """Runs queued jobs with bounded concurrency; wakes at once when new work is stored."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        vendors: jobs.Vendors,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._vendors = vendors
        self._clock = clock
        self._wake = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._leases: dict[str, asyncio.Task[None]] = {}
        self._last_heartbeat: datetime | None = None
        self._last_purge: datetime | None = None
        self._last_extension: datetime | None = None
        self._reconciling: asyncio.Task[None] | None = None
        self._last_pass = time.monotonic()
        self.last_error: str | None = None
        self._settler = Settler(engine, settings, clock, self._fault)
        self.done = self._settler.done
        self._draining = False

    def wake(self) -> None:
        """New work was stored: look for it now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then finish or hand back what is in flight.

        No single error ends it: a failed pass (the database restarting, a lock held past
        the busy timeout, a pool timeout) is logged, and the next one follows after a backoff.
        """
        log.info("worker.started concurrency=%s", self._settings.worker_concurrency)
        failures = 0
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self.tick()
                except Exception as exc:
                    failures += 1
                    delay = _pass_backoff(failures)
                    self.last_error = _briefly(exc)
                    log.error(
                        "worker.pass_failed error=%s failures=%s next_in=%.1fs",
                        type(exc).__name__,
                        failures,
                        delay,
                    )
                    await self._sleep(stop, delay, wake=False)
                    continue
                failures = 0
                self.last_error = None
                self._last_pass = time.monotonic()
                await self._sleep(stop, self._settings.worker_poll_interval.total_seconds())
        finally:
            await self.shutdown()

    def seconds_since_pass(self) -> float:
        """Seconds since the last complete pass (or since start, before the first)."""
        return time.monotonic() - self._last_pass

    async def _sleep(self, stop: asyncio.Event, seconds: float, *, wake: bool = True) -> None:
        waiters = [asyncio.create_task(stop.wait())]
        if wake:
            waiters.append(asyncio.create_task(self._wake.wait()))
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()

    async def tick(self) -> int:
        """Housekeeping, then start due jobs in each lane's free slots.

        Okdesk and Bitrix24 jobs have separate lanes, so ratings never wait behind chat
        messages that wait for Bitrix24's request budget; invitations go as one batch.
        """
        now = self._clock()
        await asyncio.to_thread(self._housekeeping, now)
        await asyncio.to_thread(self._extend_leases, now)
        if self._reconciling is None or (self._reconciling.done() and not self._draining):
            self._reconciling = asyncio.create_task(self._reconcile(now))
        room = {lane: self._free(lane) for lane in LANES}
        invites, claimed = await asyncio.to_thread(self._claim, now, room)
        if invites:
            self._start(CHAT_LANE, self._execute_invites(invites), invites)
        for lane, lane_jobs in claimed.items():
            for job in lane_jobs:
                self._start(lane, self._execute(job), [job])
        return len(invites) + sum(len(lane_jobs) for lane_jobs in claimed.values())

    def _free(self, lane: str) -> int:
        busy = sum(1 for name in self._tasks.values() if name == lane)
        return max(0, self._settings.worker_concurrency - busy)

    def _start(self, lane: str, work: Coroutine[Any, Any, None], claimed: list[Job]) -> None:
        task = asyncio.create_task(work)
        self._tasks[task] = lane
        leases = [job.lease_token for job in claimed if job.lease_token is not None]
        for lease in leases:
            self._leases[lease] = task
        task.add_done_callback(partial(self._done, leases))

    def _done(self, leases: list[str], task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        for lease in leases:
            self._leases.pop(lease, None)
        self._wake.set()

    async def drain(self) -> Counter[str]:
        """Run until nothing is due, nothing is in flight and one reconciliation has run
        (for `--once`); returns what was done."""
        self._draining = True
        while True:
            started = await self.tick()
            waiting = list(self._tasks)
            if self._reconciling is not None and not self._reconciling.done():
                waiting.append(self._reconciling)
            if waiting:
                await asyncio.wait(
                    waiting,
                    timeout=self._settings.worker_poll_interval.total_seconds(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
            elif started == 0:
                return self.done

    async def _reconcile(self, now: datetime) -> None:
        try:
            opened = await reconcile(self._engine, self._settings, self._vendors.okdesk, now)
            self.done["surveys opened by reconciliation"] += opened or 0
        except DeliveryError as exc:
            log.warning("reconcile.failed error=%s", exc)
        except Exception:
            log.exception("reconcile.crashed")

    async def shutdown(self) -> None:
        """Let running jobs finish for a moment, then hand the rest back to the queue."""
        if self._reconciling is not None:
            self._reconciling.cancel()
        if self._tasks:
            grace = self._settings.shutdown_grace.total_seconds()
            await asyncio.wait(list(self._tasks), timeout=grace)
        leases = list(self._leases)
        for task in list(self._tasks):
            task.cancel()
        if leases:
            try:
                released = await asyncio.to_thread(self._release, leases)
                log.info("worker.released jobs=%s", released)
            except Exception as exc:
                # Their leases run out by themselves, and another worker takes them over.
                log.error("worker.release_failed jobs=%s error=%s", len(leases), type(exc).__name__)
        log.info("worker.stopped")

    # --- database steps (run in a thread) -------------------------------------------------

    def _housekeeping(self, now: datetime) -> None:
        while True:
            due = service.apply_timeouts(self._engine, self._settings, now)
            self.done["timeouts applied"] += due
            if due < service.TIMEOUT_BATCH:
                break
        if self._last_heartbeat is None or now - self._last_heartbeat >= HEARTBEAT_EVERY:
            with transaction(self._engine) as session:
                queries.set_status(session, jobs.WORKER_HEARTBEAT, now.isoformat(), now)
            self._last_heartbeat = now
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            cutoff = now - self._settings.personal_data_retention
            with transaction(self._engine) as session:
                purged = queries.purge_personal_data(session, cutoff)
            if purged:
                log.info("surveys.purged count=%s", purged)
            self._last_purge = now

    def _extend_leases(self, now: datetime) -> None:
        # A live worker keeps its leases: only a dead or frozen one lets them run out.
        lease = self._settings.job_lease
        if not self._leases or (
            self._last_extension is not None and now - self._last_extension < lease / 3
        ):
            return
        with transaction(self._engine) as session:
            queries.extend_leases(session, list(self._leases), now + lease)
        self._last_extension = now

    def _claim(self, now: datetime, room: dict[str, int]) -> tuple[list[Job], dict[str, list[Job]]]:
        """In one transaction: a batch of invitations (one chat slot), then each lane's jobs."""
        lease = self._settings.job_lease
        with transaction(self._engine) as session:
            invites = []
            blocked = queries.get_status(session, jobs.PORTAL_BLOCKED)
            if blocked is not None:
                # Bitrix24 blocks the portal: nothing goes out but one probe when it is due.
                due = now >= datetime.fromisoformat(blocked.value)
                room = {**room, CHAT_LANE: min(room[CHAT_LANE], 1 if due else 0)}
            if room[CHAT_LANE] > 0:
                invites = queries.claim_jobs(
                    session, now, lease, BATCH_LIMIT, kinds=[JobKind.INVITE]
                )
            if invites:
                room = {**room, CHAT_LANE: room[CHAT_LANE] - 1}
            claimed = {
                lane: queries.claim_jobs(session, now, lease, free, kinds=LANES[lane])
                for lane, free in room.items()
                if free > 0
            }
        if invites or any(claimed.values()):
            self._fault("after_claim")
        return invites, claimed

    def _fault(self, point: str) -> None:
        if self._settings.fault_at == point:
            log.warning("worker.fault_injected point=%s", point)
            os._exit(137)

    def _load_survey(self, job: Job) -> Survey | None:
        if job.survey_id is None:
            return None
        with transaction(self._engine) as session:
            return queries.get_survey(session, job.survey_id)

    def _release(self, leases: list[str]) -> int:
        with transaction(self._engine) as session:
            return queries.release_jobs(session, leases, self._clock())

    # --- one job --------------------------------------------------------------------------

    async def _execute(self, job: Job) -> None:
        try:
            survey = await asyncio.to_thread(self._load_survey, job)
            outcome: jobs.Outcome = await jobs.run(job, survey, self._vendors, self._settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcome = _as_delivery_error(exc, [job])
        await self._record([(job, outcome)])

    async def _execute_invites(self, claimed: list[Job]) -> None:
        try:
            surveys = await asyncio.to_thread(self._load_surveys, claimed)
            invitations = await jobs.find_recipients(surveys, self._vendors, self._settings)
            # Known before sending: a click that beats the record of the invitation is theirs.
            await asyncio.to_thread(self._remember_recipients, invitations.recipients)
            outcomes = await jobs.send_invitations(invitations, self._vendors)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            outcomes = [_as_delivery_error(exc, claimed)] * len(claimed)
        await self._record(list(zip(claimed, outcomes, strict=True)))

    def _remember_recipients(self, recipients: dict[int, int]) -> None:
        if recipients:
            with transaction(self._engine) as session:
                queries.set_recipients(session, recipients)

    def _load_surveys(self, claimed: list[Job]) -> list[Survey | None]:
        return [self._load_survey(job) for job in claimed]

    async def _record(self, results: list[tuple[Job, jobs.Outcome]]) -> None:
        """Record outcomes; what the database refuses is recorded again, never redone."""
        failures = 0
        while results:
            results = await asyncio.to_thread(self._settler.settle, results)
            if results:
                failures += 1
                await asyncio.sleep(_pass_backoff(failures))


def _pass_backoff(failures: int) -> float:
    """Seconds to wait after `failures` database failures in a row: 0.5 s doubling to 30 s."""
    return min(PASS_BACKOFF_CAP, PASS_BACKOFF_BASE * 2.0 ** min(failures - 1, 10))


def _briefly(exc: Exception) -> str:
    """The error's kind and first line, without SQL or its parameters (which may hold names)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        first = (str(exc.orig).strip().splitlines() or [""])[0][:160]
        return f"{type(exc).__name__} ({type(exc.orig).__name__}: {first})"
    return type(exc).__name__


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


async def _main(settings: Settings, once: bool) -> None:
    engine = create_db_engine(settings.database_url)
    try:
        async with open_vendors(settings, engine) as vendors:
            worker = Worker(engine, settings, vendors)
            if once:
                done = await worker.drain()
                sys.stdout.write(summary(done) + "\n")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop.set)
            await worker.run(stop)
    finally:
        engine.dispose()


def summary(done: Counter[str]) -> str:
    """One line saying what a drain did, for cron logs."""
    parts = [f"{what} {count}" for what, count in sorted(done.items()) if count]
    return "worker: " + (", ".join(parts) if parts else "nothing was due")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: `python -m bridge.worker [--once]`."""
    parser = argparse.ArgumentParser(prog="python -m bridge.worker", description=__doc__)
    parser.add_argument("--once", action="store_true", help="drain what is due, then exit")
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    setup_logging(settings)
    if settings.placeholders():
        sys.stderr.write(
            f"{', '.join(settings.placeholders())} still hold example values: set them first\n"
        )
        return 2
    upgrade_or_exit(settings.database_url)
    asyncio.run(_main(settings, args.once))
    return 0


if __name__ == "__main__":
    sys.exit(main())
