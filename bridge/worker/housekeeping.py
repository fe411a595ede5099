"""The worker's chores besides jobs: timeouts, the heartbeat readiness reads, the purge,
folding the report's per-day counts, the waiting surveys' and the pending jobs'
(`storage.reading.daily`, `waiting` and `pending`), and the week's digest when it is due
(`bridge.team.digest`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bridge.config import metrics
from bridge.config.settings import Settings
from bridge.rules import workflow
from bridge.rules.decisions import default_applies
from bridge.survey import reminders
from bridge.survey.replies import changes
from bridge.team.digest import DigestChore
from storage import purge, status
from storage.db import give_back_space, transaction
from storage.reading import daily, pending, waiting
from storage.status import StatusKey
from storage.survey import asking, surveys

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=5)
PURGE_EVERY = timedelta(hours=1)
# The report and /metrics read the rows appended since the last fold too: a minute's worth
# is nothing.
FOLD_EVERY = timedelta(minutes=1)
TIMEOUT_BATCH = 500


def apply_timeouts(
    engine: Engine, settings: Settings, now: datetime, batch: int = TIMEOUT_BATCH
) -> int:
    """Give the default rating to surveys whose time ran out; returns how many were due."""
    defaulted = 0
    with transaction(engine) as session:
        due = surveys.due_for_timeout(session, now=now, limit=batch)
        for survey in due:
            assert survey.id is not None
            if settings.default_rating is not None and default_applies(
                survey,
                default_rating=settings.default_rating,
                when_undeliverable=settings.default_rating_when_undeliverable,
            ):
                change = workflow.timed_out(
                    survey.id, default_rating=settings.default_rating, now=now
                )
                if surveys.apply_change(session, change, now=now):
                    defaulted += 1
            else:
                surveys.apply_change(session, workflow.clock_stopped(survey.id), now=now)
    metrics.answered("automatic", "rated", defaulted)
    return len(due)


class Chores:
    """Runs each chore when it is due; the worker calls `run` once a pass (in a thread)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._last_heartbeat: datetime | None = None
        self._last_purge: datetime | None = None
        self._last_fold: datetime | None = None
        self._last_sweep: datetime | None = None
        self._digest = DigestChore(engine, settings)

    def run(self, now: datetime, every_pass: bool = False) -> int:
        """Sweep once a poll interval (the worker passes on every wake, dozens of times a
        second under load, and what the sweeps look for comes due by the minute; with
        `every_pass`, as `--once` drains at one moment, on every pass), beat the heart, purge
        when due; how many timeouts were due."""
        applied = 0
        last = self._last_sweep
        interval = self._settings.worker_poll_interval
        if every_pass or last is None or not last <= now < last + interval:
            applied = self._sweep(now)
            self._last_sweep = now
        if self._last_heartbeat is None or now - self._last_heartbeat >= HEARTBEAT_EVERY:
            with transaction(self._engine) as session:
                status.set_status(
                    session, key=StatusKey.WORKER_HEARTBEAT, value=now.isoformat(), now=now
                )
            self._last_heartbeat = now
        if self._last_purge is None or now - self._last_purge >= PURGE_EVERY:
            self._purge(now)
            self._last_purge = now
        if self._last_fold is None or now - self._last_fold >= FOLD_EVERY:
            with transaction(self._engine) as session:
                daily.fold(session)
                waiting.fold(session)
                pending.fold(session)
            self._last_fold = now
        return applied

    def _sweep(self, now: datetime) -> int:
        """Apply all due timeouts, then remind, close passed windows, post a due digest."""
        applied = 0
        while True:
            due = apply_timeouts(self._engine, self._settings, now)
            applied += due
            if due < TIMEOUT_BATCH:
                break
        # Issue 10: after the timeouts, so that a survey timed out now is never reminded.
        reminders.sweep(self._engine, self._settings, now)
        # Change-of-mind windows that passed lose their button (bridge.survey.replies.changes).
        while changes.close_windows(self._engine, now) >= changes.WINDOW_BATCH:
            pass
        # The week's digest to the team's chat, once it is due (bridge.team.digest).
        self._digest.run(now)
        return applied

    def _purge(self, now: datetime) -> None:
        cutoff = now - self._settings.personal_data_retention
        with transaction(self._engine) as session:
            purged = purge.purge_personal_data(session, finished_before=cutoff)
            asking.forget_people(session, seen_before=cutoff)
        # SQLite: the finished jobs and texts deleted leave pages free; the file gives them back.
        give_back_space(self._engine)
        if purged:
            log.info("surveys.purged count=%s", purged)
