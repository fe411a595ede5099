"""What the database knows, read when `/metrics` is scraped: jobs waiting, the age of the
oldest due job, how long ago the worker last beat, the Bitrix24 request budget left.

Read at scrape time in one short transaction, so every replica reports the shared truth
and nothing has to keep these numbers up to date between scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from bridge.config.metrics import PREFIX
from bridge.config.settings import Settings
from bridge.outside.vendors import budget_shape
from storage import budget, polling, queue, status
from storage.db import reading
from storage.status import StatusKey
from storage.tables import JobKind


@dataclass(frozen=True)
class StoredFacts:
    """The numbers one scrape reports."""

    pending: dict[JobKind, int]
    oldest_due_seconds: float
    heartbeat_seconds: float | None
    budget_left: float
    # Seconds since imbot.v2's Event.get last answered (None: events are not fetched).
    poll_lag_seconds: float | None = None


def read_facts(engine: Engine, settings: Settings, now: datetime) -> StoredFacts:
    """Everything the gauges show, in one transaction."""
    shape = budget_shape(settings)
    with reading(engine) as session:
        pending = queue.pending_by_kind(session)
        due = queue.oldest_due(session, now=now)
        beat = status.get_status(session, key=StatusKey.WORKER_HEARTBEAT)
        left = budget.tokens_left(
            session,
            name=shape.name,
            # The bucket runs on the wall clock, as `bridge.outside.vendors.SharedRequestBudget`.
            now=time.time(),
            burst=shape.burst,
            per_second=shape.per_second,
        )
        lag = polling.poll_lag(session, now=now) if settings.fetches_events else None
    heartbeat = (now - datetime.fromisoformat(beat.value)).total_seconds() if beat else None
    return StoredFacts(
        pending=pending,
        oldest_due_seconds=max(0.0, (now - due).total_seconds()) if due else 0.0,
        heartbeat_seconds=heartbeat,
        budget_left=left,
        poll_lag_seconds=lag,
    )


class StoredGauges(Collector):
    """A collector reading the database on each scrape (run it off the event loop)."""

    def __init__(self, engine: Engine, settings: Settings, clock: Callable[[], datetime]) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        facts = read_facts(self._engine, self._settings, self._clock())
        jobs = GaugeMetricFamily(
            PREFIX + "jobs_pending", "Jobs queued or running, by kind.", labels=["kind"]
        )
        for kind in JobKind:
            jobs.add_metric([kind.value], facts.pending.get(kind, 0))
        yield jobs
        yield GaugeMetricFamily(
            PREFIX + "oldest_due_job_age_seconds",
            "How long the longest-waiting due job has waited for a worker (0 when none).",
            value=facts.oldest_due_seconds,
        )
        beat = GaugeMetricFamily(
            PREFIX + "worker_heartbeat_age_seconds",
            "Seconds since a worker last completed a pass (absent before the first).",
        )
        if facts.heartbeat_seconds is not None:
            beat.add_metric([], max(0.0, facts.heartbeat_seconds))
        yield beat
        yield GaugeMetricFamily(
            PREFIX + "bitrix_request_budget_left",
            "Bitrix24 requests the shared budget would grant now without waiting.",
            value=facts.budget_left,
        )
        lag = GaugeMetricFamily(
            PREFIX + "bitrix_poll_lag_seconds",
            "Seconds since imbot.v2 Event.get last answered (absent unless events are fetched).",
        )
        if facts.poll_lag_seconds is not None:
            lag.add_metric([], facts.poll_lag_seconds)
        yield lag
