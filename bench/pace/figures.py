"""Keeping pace with the vendors' limits, each figure beside the one measured before the chat
calls shared requests (the baseline):

- a wave of clicks under the portal's limit (burst 50, then 2 a second), Okdesk at 150 ms:
  seconds until every click is rated in Okdesk and thanked in Bitrix24;
- a burst of closures at realistic latency (Okdesk 150 ms, Bitrix24 200 ms, the portal's limit
  on): seconds until every person is invited, as a multiple of the floor (two Okdesk reads and
  two Bitrix24 requests one after the other), and the service's CPU per closure.

Every ticket has a contact of its own (so each closure reads Okdesk twice, as in life). The
service and the fakes run as processes; progress is read from the service's database.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bench.report import Report, table
from bench.running.databases import fresh_database
from bench.running.service import (
    CONCURRENCY,
    FIRST_ISSUE,
    fire_webhooks,
    service_pid,
    start_service,
    webhook_bodies,
)
from harness.constants import CLIENT_ID, EVENTS_TOKEN
from harness.payloads import click_body, fixture_json, rest_issue
from harness.processes import Fakes, Service, fakes_process
from storage.db import create_db_engine, reading
from storage.tables import Job, JobKind, JobState, Survey, SurveyState

OKDESK_LATENCY, BITRIX_LATENCY = 0.15, 0.2
WAVE_BASELINE_S = 148.0
CLOSURES_BASELINE = {"sqlite": 15.7, "postgresql": 20.8}
POLL, BOUND = 0.05, 900.0
CONTACTS = 3_000_000


def _seed(fakes: Fakes, issue_ids: list[int]) -> None:
    """The tickets, each with a contact of its own (one e-mail, the fixture Bitrix24 user)."""
    fakes.seed_tickets([])
    contact = fixture_json("okdesk/contact_11771.json")
    issues = {}
    for issue_id in issue_ids:
        issues[str(issue_id)] = rest_issue(issue_id)
        issues[str(issue_id)]["contact"] = {"id": CONTACTS + issue_id, "name": "Петров Иван"}
    contacts = {str(CONTACTS + i): {**contact, "id": CONTACTS + i} for i in issue_ids}
    fakes.seed("okdesk", {"contacts": contacts, "issues": issues})


def _count(engine: Engine, query: object) -> int:
    # Read-only: on SQLite it takes no write lock, so the service's writes never wait on it.
    with reading(engine) as session:
        return int(session.exec(query).one())  # type: ignore[call-overload]


def invited(engine: Engine) -> int:
    query = select(func.count()).where(col(Survey.state) == SurveyState.AWAITING)
    return _count(engine, query)


def _rated_and_thanked(engine: Engine) -> int:
    rated = select(func.count()).where(col(Survey.rating_sent_at).is_not(None))
    thanked = select(func.count()).where(
        col(Job.kind) == JobKind.CLOSE_INVITATION, col(Job.state) == JobState.DONE
    )
    return min(_count(engine, rated), _count(engine, thanked))


def until(done: Callable[[], bool], began: float) -> float | None:
    """Seconds from `began` until `done()`, or None past the bound."""
    while not done():
        if time.perf_counter() - began > BOUND:
            return None
        time.sleep(POLL)
    return time.perf_counter() - began


def cpu_seconds(pid: int) -> float:
    """The process's user and system CPU time so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(fakes: Fakes, database_url: str, tmp: Path, name: str, n: int) -> Service:
    """Seed `n` tickets, set the vendors' latency, start the service."""
    issue_ids = list(range(FIRST_ISSUE, FIRST_ISSUE + n))
    _seed(fakes, issue_ids)
    fakes.control("okdesk", "latency", {"latency": OKDESK_LATENCY})
    return start_service(fakes, database_url, tmp, name)


# --- a wave of clicks ------------------------------------------------------------------------


async def _click_all(service: Service, tokens: list[str]) -> None:
    """Every invitation's «4» pressed at once (16 senders), as Bitrix24 posts the clicks."""
    params = {"token": EVENTS_TOKEN, "CLIENT_ID": CLIENT_ID}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=60) as client:

        async def click(token: str) -> None:
            body = click_body(f"{token}:4").replace(b"acme.bitrix24.ru", b"127.0.0.1")
            answer = await client.post(
                "/api/v1/bitrix/events",
                params=params,
                content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            answer.raise_for_status()

        await asyncio.gather(*(click(token) for token in tokens))


def load_average() -> str:
    """The machine's load average (1 min), printed beside each figure: the cores are shared."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def bench_wave(postgres_url: str | None, tmp: Path, n: int, report: Report) -> None:
    """N invitations clicked at once under the portal's limit; time until all are thanked."""
    print(f"\n[pace 1] a wave of {n} clicks, portal limit 50 + 2/s, Okdesk {OKDESK_LATENCY}s")
    print(f"    {load_average()}")
    with (
        fresh_database(postgres_url, tmp, "wave") as database_url,
        fakes_process("--rate-limit") as fakes,
    ):
        service = _start(fakes, database_url, tmp, "wave", n)
        engine = create_db_engine(database_url)
        try:
            asyncio.run(fire_webhooks(service, webhook_bodies(list(fakes_ids(n))), CONCURRENCY))
            until(lambda: invited(engine) >= n, time.perf_counter())
            with reading(engine) as session:
                tokens = list(session.exec(select(Survey.token)).all())
            began = time.perf_counter()
            asyncio.run(_click_all(service, tokens))
            took = until(lambda: _rated_and_thanked(engine) >= n, began)
        finally:
            service.stop()
            engine.dispose()
    shown = "not all within the bound" if took is None else f"{took:.1f} s"
    rows = [("all rated and thanked", shown), ("before (baseline)", f"{WAVE_BASELINE_S:.0f} s")]
    table(f"Pace 1. A wave of {n} clicks under 50 + 2/s, Okdesk at 150 ms", rows)
    report.add(f"wave of {n} clicks: all rated and thanked", f"{shown} (before: 148 s)")
    report.put("wave_thanked_s", None if took is None else round(took, 1))
    if took is None:
        report.problems.append(f"the wave of {n} clicks was not all thanked in {BOUND:.0f} s")


def fakes_ids(n: int) -> range:
    """The issue ids the pace figures use."""
    return range(FIRST_ISSUE, FIRST_ISSUE + n)


# --- a burst of closures ---------------------------------------------------------------------


def bench_closures(postgres_url: str | None, tmp: Path, n: int, report: Report) -> None:
    """N closures at once at realistic latency; time until all are invited, beside the floor."""
    database = "postgresql" if postgres_url else "sqlite"
    print(f"\n[pace 2] {n} closures at once, Okdesk {OKDESK_LATENCY}s, Bitrix24 {BITRIX_LATENCY}s")
    print(f"    {load_average()}")
    with (
        fresh_database(postgres_url, tmp, "closures") as database_url,
        fakes_process("--rate-limit") as fakes,
    ):
        service = _start(fakes, database_url, tmp, "closures", n)
        fakes.control("bitrix", "latency", {"latency": BITRIX_LATENCY})
        engine = create_db_engine(database_url)
        try:
            pid = service_pid(service)
            cpu = cpu_seconds(pid)
            fired = asyncio.run(
                fire_webhooks(service, webhook_bodies(list(fakes_ids(n))), CONCURRENCY)
            )
            took = until(lambda: invited(engine) >= n, fired.started)
            cpu = cpu_seconds(pid) - cpu
        finally:
            service.stop()
            engine.dispose()
    _report_closures(report, database, n, took, cpu / n * 1000, fired.elapsed)


def _report_closures(
    report: Report, database: str, n: int, took: float | None, cpu_ms: float, webhooks_s: float
) -> None:
    """Print the burst's figures, and record them for the final block and the JSON line."""
    floor = 2 * OKDESK_LATENCY + 2 * BITRIX_LATENCY
    times = "not all within the bound" if took is None else f"{took:.1f} s = {took / floor:.1f}×"
    before = CLOSURES_BASELINE[database]
    rows = [
        ("all invited", f"{times} the floor of {floor:.1f} s"),
        ("CPU per closure", f"{cpu_ms:.1f} ms"),
        # The only stretch that is the service's CPU alone (docs/benchmark.md, the sixth round):
        # on a machine whose pace drifts, it tells a slow minute from a slow release.
        ("webhooks answered in", f"{webhooks_s:.1f} s"),
        ("before (baseline)", f"{before}× the floor"),
    ]
    table(f"Pace 2. {n} closures at once, Okdesk 150 ms, Bitrix24 200 ms ({database})", rows)
    report.add(f"{n} closures: all invited", f"{times} the floor (before: {before}×)")
    report.add(f"{n} closures: CPU per closure", f"{cpu_ms:.1f} ms")
    report.add(f"{n} closures: webhooks answered in", f"{webhooks_s:.1f} s")
    report.put("closures_floor_multiple", None if took is None else round(took / floor, 1))
    report.put("closures_cpu_ms", round(cpu_ms, 1))
    report.put("closures_webhooks_s", round(webhooks_s, 2))
    if took is None:
        report.problems.append(f"{n} closures were not all invited in {BOUND:.0f} s")
