"""A steady day compressed: closures and clicks at a steady rate for minutes, against vendors at
a realistic latency (Okdesk 150 ms, Bitrix24 200 ms a call) and the portal's limit (burst 50,
then 2 requests a second). Does the service keep pace (its job queue stays flat), hold its
memory (RSS flat), and what CPU does it take? Not a test: it prints figures.

    .venv/bin/python -m bench --soak [--minutes 10] [--rate 20] [--database-url ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import col

from bench.report import Report, mib, proc_memory, table
from bench.running.databases import fresh_database
from bench.running.service import (
    FIRST_ISSUE,
    invitations,
    post_webhook,
    service_pid,
    start_service,
    webhook_bodies,
)
from bench.running.wire import Connection
from harness.constants import CLIENT_ID, EVENTS_TOKEN
from harness.payloads import click_body
from harness.processes import Fakes, Service, fakes_process
from storage.db import create_db_engine
from storage.tables import Job, JobState

SAMPLE_EVERY = 10.0
LOOK_EVERY = 5.0
LATENCY = {"okdesk": 0.15, "bitrix": 0.2}
# What the issue measured before: the queue grew by ~20 jobs a second, ratings ~10 a second.
BASELINE = "queue +~20 jobs/s, ~10 ratings/s reached Okdesk (before batching)"


@dataclass
class Sample:
    """One look at the service: seconds since the start, jobs due, RSS, CPU seconds."""

    at: float
    pending: int
    rss_kib: int
    cpu_s: float


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def due_by_kind(engine: Engine) -> dict[str, int]:
    """The backlog at the end, by job kind: what falls behind."""
    statement = (
        select(col(Job.kind), func.count())
        .where(col(Job.state) == JobState.PENDING, col(Job.available_at) <= datetime.now(UTC))
        .group_by(col(Job.kind))
    )
    with engine.connect() as connection:
        return {str(kind): int(n) for kind, n in connection.execute(statement).all()}


def due_jobs(engine: Engine) -> int:
    """Jobs due and not yet done: the backlog (a reminder or a timeout set for later is not)."""
    return sum(due_by_kind(engine).values())


async def _close(service: Service, bodies: list[bytes], rate: float, origin: float) -> int:
    """POST one closure every 1/rate seconds on one kept-alive connection; how many got 200."""
    accepted = 0
    connection = Connection(service.url)
    try:
        for i, body in enumerate(bodies):
            await asyncio.sleep(max(0.0, origin + i / rate - time.perf_counter()))
            accepted += (await post_webhook(connection, body)).status == 200
    finally:
        await connection.close()
    return accepted


async def _click(
    service: Service, fakes: Fakes, rate: float, until: float, clicked: set[int]
) -> None:
    """Press «4» on each new invitation, `rate` a second; the invitations are looked up every
    LOOK_EVERY seconds beside the pressing, so a slow look never slows the clicks."""
    waiting: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
    seen: set[int] = set()
    async with httpx.AsyncClient(timeout=60) as client:

        async def look() -> None:
            while time.perf_counter() < until:
                began = time.perf_counter()
                state = (await client.get(f"{fakes.bitrix}/_fake/state")).json()
                for issue_id, token in invitations(state["messages"]).items():
                    if issue_id not in seen:
                        seen.add(issue_id)
                        waiting.put_nowait((issue_id, token))
                await asyncio.sleep(max(0.0, began + LOOK_EVERY - time.perf_counter()))

        looking = asyncio.create_task(look())
        pace = time.perf_counter()
        while time.perf_counter() < until:
            try:
                issue_id, token = await asyncio.wait_for(waiting.get(), LOOK_EVERY)
            except TimeoutError:
                continue
            pace = max(pace + 1 / rate, time.perf_counter())
            await asyncio.sleep(max(0.0, pace - time.perf_counter()))
            if await _press(client, service, token):
                clicked.add(issue_id)
            else:
                seen.discard(issue_id)  # looked up and pressed again
        await looking


async def _press(client: httpx.AsyncClient, service: Service, token: str) -> bool:
    """One click's event, as Bitrix24 posts it; False when it got no answer (tried again after
    the next look, as Bitrix24 repeats an event that got no answer)."""
    body = click_body(f"{token}:4").replace(b"acme.bitrix24.ru", b"127.0.0.1")
    try:
        answer = await client.post(
            f"{service.url}/api/v1/bitrix/events",
            params={"token": EVENTS_TOKEN, "CLIENT_ID": CLIENT_ID},
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    except httpx.TransportError:
        return False
    return answer.status_code == 200


async def _watch(pid: int, engine: Engine, origin: float, until: float) -> list[Sample]:
    samples: list[Sample] = []
    while True:
        at = time.perf_counter() - origin
        pending = await asyncio.to_thread(due_jobs, engine)
        samples.append(Sample(at, pending, proc_memory(pid)[0], cpu_seconds(pid)))
        if time.perf_counter() >= until:
            return samples
        await asyncio.sleep(min(SAMPLE_EVERY, max(0.0, until - time.perf_counter())))


async def _soak(
    service: Service, fakes: Fakes, engine: Engine, issue_ids: list[int], rate: float
) -> tuple[int, int, list[Sample]]:
    origin = time.perf_counter()
    until = origin + len(issue_ids) / rate
    clicked: set[int] = set()
    closing = asyncio.create_task(_close(service, webhook_bodies(issue_ids), rate, origin))
    clicking = asyncio.create_task(_click(service, fakes, rate, until, clicked))
    samples = await _watch(service_pid(service), engine, origin, until)
    accepted = await closing
    await clicking
    return accepted, len(clicked), samples


def bench_soak(
    postgres_url: str | None, tmp: Path, minutes: float, rate: float, report: Report
) -> None:
    """Closures and clicks at `rate` a second each for `minutes`; queue, RSS and CPU."""
    issue_ids = list(range(FIRST_ISSUE + 600_000, FIRST_ISSUE + 600_000 + int(rate * minutes * 60)))
    print(f"\n[soak] {rate:g} closures and {rate:g} clicks a second for {minutes:g} min")
    with (
        fresh_database(postgres_url, tmp, "soak") as database_url,
        fakes_process("--rate-limit") as fakes,
    ):
        fakes.seed_tickets(issue_ids)
        for name, seconds in LATENCY.items():
            httpx.post(f"{getattr(fakes, name)}/_fake/latency", json={"latency": seconds})
        service = start_service(fakes, database_url, tmp, "soak")
        engine = create_db_engine(database_url, pool_size=1)
        try:
            closed, clicked, samples = asyncio.run(_soak(service, fakes, engine, issue_ids, rate))
            rated = len(httpx.get(f"{fakes.okdesk}/_fake/state").json()["rate_posts"])
            behind = due_by_kind(engine)
        finally:
            service.stop()
            engine.dispose()
    _report(closed, clicked, rated, samples, report)
    print(f"  due at the end, by kind: {behind or 'none'}")
    report.put("soak_due_at_end", sum(behind.values()))


def _report(closed: int, clicked: int, rated: int, samples: list[Sample], report: Report) -> None:
    """The soak's table: the queue, memory and CPU after the first minute's warm-up."""
    warm = [s for s in samples if s.at >= 60.0] or samples
    first, last = warm[0], warm[-1]
    minutes = max((last.at - first.at) / 60.0, 1e-9)
    queue_per_min = (last.pending - first.pending) / minutes
    rss_growth = (last.rss_kib - first.rss_kib) / max(first.rss_kib, 1)
    cores = (last.cpu_s - first.cpu_s) / max(last.at - first.at, 1e-9)
    wall = samples[-1].at
    rows = [
        ("closures accepted / clicks sent", f"{closed} / {clicked}"),
        ("ratings that reached Okdesk", f"{rated} ({rated / max(wall, 1e-9):.1f}/s)"),
        ("jobs due after 1 min / at the end", f"{first.pending} / {last.pending}"),
        ("jobs due, most seen", str(max(s.pending for s in samples))),
        ("queue growth after 1 min", f"{queue_per_min:+.0f} jobs/min"),
        ("RSS after 1 min / at the end", f"{mib(first.rss_kib)} / {mib(last.rss_kib)}"),
        ("RSS growth after 1 min", f"{rss_growth:+.1%}"),
        ("CPU of the service after 1 min", f"{cores:.2f} cores"),
        ("baseline", BASELINE),
    ]
    table(f"Soak: {wall / 60:.1f} min of closures and clicks", rows)
    report.put("soak_queue_growth_per_min", round(queue_per_min, 1))
    report.put("soak_rss_growth", round(rss_growth, 3))
    report.put("soak_cpu_cores", round(cores, 2))
    report.put("soak_rated", rated)
    report.add(
        "soak: queue growth / RSS growth / CPU",
        f"{queue_per_min:+.0f}/min / {rss_growth:+.1%} / {cores:.2f} cores",
    )


def main(argv: list[str]) -> int:
    """`python -m bench --soak`: the soak alone."""
    parser = argparse.ArgumentParser(prog="python -m bench --soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20.0, help="closures and clicks a second")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: an SQLite file)")
    args = parser.parse_args(argv)
    report = Report()
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as directory:
        bench_soak(args.database_url, Path(directory), args.minutes, args.rate, report)
    print()
    print(report.json_line(), flush=True)
    return 1 if report.problems else 0
