"""The cost of the timeout sweep over many pending surveys, and its query plan."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Engine
from sqlmodel import col

from bench.report import Report, ms
from bench.running.databases import fresh_database, seed_surveys, sweep_plan
from bench.running.service import DUE
from bridge.worker.housekeeping import apply_timeouts
from harness.vendors import make_settings
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.survey import surveys
from storage.tables import Survey, SurveyState, utcnow

T = TypeVar("T")


@dataclass
class Sweep:
    """Timings for one size of the pending set."""

    pending: int
    seed_seconds: float
    query_seconds: float
    found: int
    sweep_seconds: float
    defaulted: int
    empty_seconds: float
    plan: str


def _defaulted(engine: Engine) -> int:
    """How many surveys the sweep ended with the default rating."""
    with transaction(engine) as session:
        counted = select_columns(func.count()).where(col(Survey.state) == SurveyState.DEFAULTED)
        return int(session.execute(counted).scalar_one())


def _timed(work: Callable[[], T]) -> tuple[T, float]:
    """What `work()` returned, and how many seconds it took."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def one_sweep(postgres_url: str | None, tmp: Path, pending: int) -> Sweep:
    """Seed a fresh database and time the due-query and one `apply_timeouts` call."""
    with fresh_database(postgres_url, tmp, f"sweep_{pending}") as database_url:
        upgrade(database_url)
        settings = make_settings(database_url)
        engine = create_db_engine(database_url, pool_size=2)
        try:
            now = utcnow()
            _, seeded = _timed(lambda: seed_surveys(engine, pending, DUE, now))
            plan = sweep_plan(engine, now)
            with transaction(engine) as session:
                found, query_seconds = _timed(
                    lambda: len(surveys.due_for_timeout(session, now=now, limit=500))
                )
            swept, sweep_seconds = _timed(lambda: apply_timeouts(engine, settings, now))
            _, empty_seconds = _timed(lambda: apply_timeouts(engine, settings, now))

            defaulted = _defaulted(engine)
            if swept != DUE or found != DUE:
                print(f"    P={pending}: apply_timeouts saw {swept}, the query found {found}")
            return Sweep(
                pending,
                seeded,
                query_seconds,
                found,
                sweep_seconds,
                defaulted,
                empty_seconds,
                plan,
            )
        finally:
            engine.dispose()


def bench_sweep(
    postgres_url: str | None, tmp: Path, sizes: tuple[int, ...], report: Report
) -> None:
    """The timeout sweep's cost as the pending set grows and the due set stays at D."""
    print(f"\n[4] timeout sweep, {DUE} due surveys among P pending, sizes {sizes}")
    sweeps = []
    for pending in sizes:
        sweep = one_sweep(postgres_url, tmp, pending)
        print(f"    P={pending:,}: seeded in {sweep.seed_seconds:.1f} s", flush=True)
        sweeps.append(sweep)
        if sweep.defaulted != DUE:
            report.problems.append(f"sweep P={pending}: {sweep.defaulted} defaulted, not {DUE}")

    header = ("pending P", "due", "due_for_timeout", "apply_timeouts", "defaulted", "empty sweep")
    lines = [
        (
            f"{s.pending:,}",
            str(s.found),
            ms(s.query_seconds),
            ms(s.sweep_seconds),
            str(s.defaulted),
            ms(s.empty_seconds),
        )
        for s in sweeps
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    rule = "-" * (sum(widths) + 3 * (len(widths) - 1) + 2)
    print()
    print(f"4. Timeout sweep: one apply_timeouts call, D={DUE} due among P pending (awaiting)")
    print(rule)
    print("  " + "   ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for line in lines:
        print("  " + "   ".join(v.rjust(w) for v, w in zip(line, widths, strict=True)))
    print(rule)
    print(f"  plan of the due query: {sweeps[-1].plan}")
    print("  (empty sweep: a second apply_timeouts call at the same instant, nothing due;")
    print("   statistics gathered with ANALYZE after seeding)", flush=True)
    _record(sweeps, report)


def _record(sweeps: list[Sweep], report: Report) -> None:
    """The sweeps' figures for the summary and the JSON line."""
    for s in sweeps:
        report.put_ms(f"sweep_ms_{s.pending}", s.sweep_seconds)
        report.put_ms(f"sweep_query_ms_{s.pending}", s.query_seconds)
        report.add(f"sweep P={s.pending:,} apply_timeouts", ms(s.sweep_seconds))
        report.add(f"sweep P={s.pending:,} due_for_timeout", ms(s.query_seconds))
