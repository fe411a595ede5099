"""The worker: claims due jobs, runs them, retries what failed for a while, applies timeouts.

It runs inside the service (started by the app's lifespan) or alone:
`python -m bridge.worker` runs until SIGTERM, `python -m bridge.worker --once` drains what is
due and exits (for cron). Which jobs it takes: `bridge.worker.scheduling`; how it runs them:
`bridge.worker.running`; its chores: `bridge.worker.housekeeping`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from uvicorn.loops.auto import auto_loop_factory

from bot.texts import messages
from bridge.config.collection import keep_out_of_collection
from bridge.config.command_help import settings_help
from bridge.config.logs import setup_logging
from bridge.config.settings import Settings, settings_or_exit
from bridge.outside.priority import IntakeFirst
from bridge.outside.vendors import Vendors, open_vendors
from bridge.worker.housekeeping import Chores
from bridge.worker.reconcile import reconcile
from bridge.worker.running import Checkpoint, JobRunner, no_checkpoint
from bridge.worker.scheduling import INVITATIONS, Scheduler, Slot, lane_sizes
from bridge.worker.settle import Settler, pass_backoff
from outbound.errors import DeliveryError
from storage.db import create_db_engine
from storage.migrate import upgrade_or_exit
from storage.tables import Job, utcnow

log = logging.getLogger(__name__)

# The least time between the starts of two passes (`Worker.run`).
PASS_GAP = 0.05


class Worker:
    """Runs queued jobs with bounded concurrency; wakes at once when new work is stored.

    `checkpoint` is called between steps ("after_claim", "after_vendor_call"): a no-op in
    production, a place for fault-injection tests to kill the process.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        vendors: Vendors,
        clock: Callable[[], datetime] = utcnow,
        checkpoint: Checkpoint = no_checkpoint,
        priority: IntakeFirst | None = None,
    ) -> None:
        self._engine = engine
        self._priority = priority
        self._settings = settings
        self._vendors = vendors
        self._clock = clock
        messages.use_texts(settings.chosen_texts())
        self._checkpoint = checkpoint
        self._wake = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], Slot] = {}
        self._leases: dict[str, asyncio.Task[None]] = {}
        self._reconciling: asyncio.Task[None] | None = None
        self._last_pass = time.monotonic()
        self.last_error: str | None = None
        self._chores = Chores(engine, settings)
        self._scheduler = Scheduler(engine, settings)
        self._sizes = lane_sizes(settings)
        settler = Settler(engine, settings, clock, checkpoint)
        self._runner = JobRunner(engine, settings, vendors, settler, clock)
        self.done = settler.done
        self._draining = False

    def wake(self) -> None:
        """New work was stored: look for it now rather than at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set, then finish or hand back what is in flight.

        No single error ends it: a failed pass (the database restarting, a lock held past
        the busy timeout, a pool timeout) is logged, and the next one follows after a backoff.
        """
        log.info("worker.started lanes=%s", self._sizes)
        failures = 0
        try:
            while not stop.is_set():
                self._wake.clear()
                began = time.monotonic()
                try:
                    await self.tick()
                except Exception as exc:
                    failures += 1
                    await self._after_failed_pass(stop, exc, failures)
                    continue
                failures = 0
                self.last_error = None
                self._last_pass = time.monotonic()
                await self._sleep(stop, self._settings.worker_poll_interval.total_seconds())
                # The wakes of a busy moment (a webhook stored, a job finished: dozens a
                # second) that come within PASS_GAP of a pass make one pass, not one each.
                await asyncio.sleep(max(0.0, began + PASS_GAP - time.monotonic()))
        finally:
            await self.shutdown()

    async def _after_failed_pass(self, stop: asyncio.Event, exc: Exception, failures: int) -> None:
        delay = pass_backoff(failures)
        self.last_error = _briefly(exc)
        log.error(
            "worker.pass_failed error=%s failures=%s next_in=%.1fs",
            type(exc).__name__,
            failures,
            delay,
        )
        await self._sleep(stop, delay, wake=False)

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
        """Housekeeping, then start due jobs in each lane's free slots; how many started."""
        if self._priority is not None:
            await self._priority.wait_turn()
        now = self._clock()
        chores = partial(self._chores.run, now, every_pass=self._draining)
        self.done["timeouts applied"] += await asyncio.to_thread(chores)
        await asyncio.to_thread(self._scheduler.extend, now, list(self._leases))
        if self._reconciling is None or (self._reconciling.done() and not self._draining):
            self._reconciling = asyncio.create_task(self._reconcile(now))
        busy = Counter(self._tasks.values())
        claimed = await asyncio.to_thread(self._scheduler.claim, now, busy)
        if len(claimed):
            self._checkpoint("after_claim")
        for slot, slot_jobs in claimed.groups:
            if slot.lane == INVITATIONS:
                self._start(slot, self._runner.invites(slot_jobs), slot_jobs)
                continue
            for job in slot_jobs:
                self._start(slot, self._runner.one(job), [job])
        return len(claimed)

    def _start(self, slot: Slot, work: Coroutine[Any, Any, None], claimed: list[Job]) -> None:
        task = asyncio.create_task(work)
        self._tasks[task] = slot
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
                self._draining = False
                return self.done

    async def _reconcile(self, now: datetime) -> None:
        try:
            opened = await reconcile(self._engine, self._settings, self._vendors.helpdesk, now)
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
                released = await asyncio.to_thread(self._scheduler.release, leases, self._clock())
                log.info("worker.released jobs=%s", released)
            except Exception as exc:
                # Their leases run out by themselves, and another worker takes them over.
                log.error("worker.release_failed jobs=%s error=%s", len(leases), type(exc).__name__)
        log.info("worker.stopped")


def _briefly(exc: Exception) -> str:
    """The error's kind and first line, without SQL or its parameters (which may hold names)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        first = (str(exc.orig).strip().splitlines() or [""])[0][:160]
        return f"{type(exc).__name__} ({type(exc.orig).__name__}: {first})"
    return type(exc).__name__


async def work(settings: Settings, *, once: bool, checkpoint: Checkpoint = no_checkpoint) -> None:
    """Run a worker on its own until SIGTERM (or, with `once`, until nothing is due)."""
    engine = create_db_engine(settings.database_url)
    try:
        async with open_vendors(settings, engine) as vendors:
            worker = Worker(engine, settings, vendors, checkpoint=checkpoint)
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
    parser = argparse.ArgumentParser(
        prog="python -m bridge.worker",
        description=__doc__,
        epilog=settings_help(
            "log lines on stderr while it runs; with --once, last, one line saying what the "
            "drain did (for cron)."
        ),
    )
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
    keep_out_of_collection()
    # The service's event loop (uvicorn's choice: uvloop where it is installed).
    with asyncio.Runner(loop_factory=auto_loop_factory()) as runner:
        runner.run(work(settings, once=args.once))
    return 0
