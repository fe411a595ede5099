"""Benchmark of the service: webhook acknowledgement, invitation throughput, click-to-Okdesk
latency and the cost of the timeout sweep. Not a pytest test: run it as

    .venv/bin/python -m tests.bench [--database-url postgresql://...] [--quick]

The service and the fake vendors run as real processes on 127.0.0.1 (tests/processes.py).
The database is a fresh SQLite file in a temp dir, or, with --database-url, a PostgreSQL
database of the benchmark's own (created next to the given one and dropped at the end).
Nothing here asserts anything about time: it only prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from sqlalchemy import Table, func, insert, text
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Engine, make_url
from sqlmodel import col

from bridge.service import apply_timeouts
from storage import queries
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.tables import Survey, SurveyState, utcnow
from tests.harness.constants import CLIENT_ID, EVENTS_TOKEN, WEBHOOK_TOKEN
from tests.harness.payloads import click_body, closed_webhook
from tests.harness.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    register_bot,
    service_env,
)
from tests.harness.vendors import make_settings

CONCURRENCY = 16
SLOW_LATENCY = "0.3"
INVITE_POLL = 0.2
INVITE_BOUND = 600.0
CLICK_POLL = 0.005
CLICK_BOUND = 60.0
DUE = 100
CHUNK = 5_000
FIRST_ISSUE = 500_001
_ISSUE_IN_TEXT = re.compile(r"№(\d+)")


# --- small helpers -------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for the table."""
    return f"{seconds * 1000:.1f} ms"


def proc_memory(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB; (0, 0) when it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def mib(kib: int) -> str:
    """KiB as MiB, for the table."""
    return f"{kib / 1024:.1f} MiB"


def table(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a two-column table with a title."""
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    rule = "-" * (width + value_width + 5)
    print()
    print(title)
    print(rule)
    for name, value in rows:
        print(f"  {name:<{width}}   {value:>{value_width}}")
    print(rule, flush=True)


@dataclass
class Report:
    """Figures collected on the way, printed together at the end."""

    figures: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        """Record one figure for the final block."""
        self.figures.append((name, value))


# --- databases -----------------------------------------------------------------------------


def _admin_conninfo(database_url: str) -> str:
    """The given PostgreSQL URL as psycopg takes it (no SQLAlchemy driver suffix)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@contextmanager
def fresh_database(postgres_url: str | None, tmp: Path, name: str) -> Iterator[str]:
    """A new, empty database: a SQLite file in `tmp`, or a PostgreSQL database of our own."""
    if postgres_url is None:
        yield f"sqlite:///{tmp / name}.db"
        return
    admin = _admin_conninfo(postgres_url)
    database = f"bench_{os.getpid()}_{name}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        url = make_url(postgres_url).set(database=database)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


# --- talking to the service and the fakes --------------------------------------------------


@dataclass
class Fired:
    """The outcome of a burst of webhooks."""

    latencies: list[float]
    statuses: Counter[int]
    results: Counter[str]
    started: float
    elapsed: float


def webhook_bodies(issue_ids: list[int]) -> list[bytes]:
    """Closure webhooks, encoded up front so that building them is not timed."""
    return [json.dumps(closed_webhook(issue_id)).encode() for issue_id in issue_ids]


async def fire_webhooks(
    service: Service, bodies: list[bytes], concurrency: int, started: asyncio.Event | None = None
) -> Fired:
    """POST every body to the webhook with `concurrency` requests in flight."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    fired = Fired([], Counter(), Counter(), 0.0, 0.0)
    pending = iter(bodies)

    async def sender(client: httpx.AsyncClient) -> None:
        for body in pending:
            start = time.perf_counter()
            response = await client.post(
                "/api/v1/okdesk/webhook",
                params={"token": WEBHOOK_TOKEN},
                content=body,
                headers={"content-type": "application/json"},
            )
            fired.latencies.append(time.perf_counter() - start)
            fired.statuses[response.status_code] += 1
            if response.status_code == 200:
                fired.results[str(response.json().get("result"))] += 1

    async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=120) as client:
        fired.started = time.perf_counter()
        if started is not None:
            started.set()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        fired.elapsed = time.perf_counter() - fired.started
    return fired


def invitations(messages: dict[str, Any]) -> dict[int, str]:
    """Issue id → survey token, for every bot message that still carries rating buttons."""
    found: dict[int, str] = {}
    for message in messages.values():
        keyboard = message.get("KEYBOARD")
        match = _ISSUE_IN_TEXT.search(str(message.get("MESSAGE", "")))
        if not keyboard or match is None:
            continue
        params = str(keyboard["BUTTONS"][0]["COMMAND_PARAMS"])
        found[int(match.group(1))] = params.split(":")[0]
    return found


@dataclass
class Watched:
    """What the invitation watcher saw."""

    finished_after: float | None = None
    invited: int = 0
    peak_rss_kib: int = 0
    hwm_kib: int = 0


async def watch_invitations(
    fakes: Fakes, pid: int, expected: int, started: asyncio.Event
) -> Watched:
    """Poll the fake Bitrix24 until it holds `expected` invitations; sample the service's RSS."""
    watched = Watched()
    await started.wait()
    origin = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            rss, hwm = await asyncio.to_thread(proc_memory, pid)
            watched.peak_rss_kib = max(watched.peak_rss_kib, rss)
            watched.hwm_kib = max(watched.hwm_kib, hwm)
            state = (await client.get(f"{fakes.bitrix}/_fake/state")).json()
            watched.invited = len(invitations(state["messages"]))
            elapsed = time.perf_counter() - origin
            if watched.invited >= expected:
                watched.finished_after = elapsed
                return watched
            if elapsed > INVITE_BOUND:
                return watched
            await asyncio.sleep(INVITE_POLL)


def start_service(fakes: Fakes, database_url: str, tmp: Path, name: str) -> Service:
    """Register the bot in the fake portal and start the service against the fakes."""
    env = service_env(fakes, database_url, free_port())
    register_bot(env, tmp)
    service = Service(env, tmp / f"{name}.log")
    service.start()
    return service


def service_pid(service: Service) -> int:
    """The service's process id."""
    assert service.process is not None
    return service.process.pid


# --- 1 and 2: webhook acknowledgement and invitation throughput ----------------------------


async def _acknowledge_and_invite(
    service: Service, fakes: Fakes, bodies: list[bytes]
) -> tuple[Fired, Watched]:
    started = asyncio.Event()
    watcher = asyncio.create_task(
        watch_invitations(fakes, service_pid(service), len(bodies), started)
    )
    try:
        fired = await fire_webhooks(service, bodies, CONCURRENCY, started)
    except BaseException:
        watcher.cancel()
        raise
    return fired, await watcher


def bench_acknowledgement(postgres_url: str | None, tmp: Path, n: int, report: Report) -> None:
    """Fire N closure webhooks at slow fakes; time the answers and the invitations."""
    issue_ids = list(range(FIRST_ISSUE, FIRST_ISSUE + n))
    print(f"\n[1+2] {n} webhooks, concurrency {CONCURRENCY}, fakes at {SLOW_LATENCY}s per call")
    with (
        fresh_database(postgres_url, tmp, "ack") as database_url,
        fakes_process("--latency", SLOW_LATENCY) as fakes,
    ):
        fakes.seed_tickets(issue_ids)
        service = start_service(fakes, database_url, tmp, "ack")
        try:
            fired, watched = asyncio.run(
                _acknowledge_and_invite(service, fakes, webhook_bodies(issue_ids))
            )
            _, hwm = proc_memory(service_pid(service))
            watched.hwm_kib = max(watched.hwm_kib, hwm)
        finally:
            service.stop()

    not_ok = {code: count for code, count in fired.statuses.items() if code != 200}
    if not_ok:
        report.problems.append(f"webhook answers other than 200: {not_ok}")
    p50 = percentile(fired.latencies, 0.50)
    p99 = percentile(fired.latencies, 0.99)
    worst = max(fired.latencies)
    rps = len(fired.latencies) / fired.elapsed
    results = ", ".join(f"{name} {count}" for name, count in sorted(fired.results.items()))
    table(
        f"1. Webhook acknowledgement (N={n}, concurrency {CONCURRENCY}, vendors 300 ms/call)",
        [
            ("requests", str(len(fired.latencies))),
            ("HTTP 200", f"{fired.statuses[200]} of {len(fired.latencies)}"),
            ("results", results or "-"),
            ("p50", ms(p50)),
            ("p99", ms(p99)),
            ("max", ms(worst)),
            ("wall time", f"{fired.elapsed:.2f} s"),
            ("requests/s", f"{rps:.1f}"),
        ],
    )
    report.add("webhook ack p50", ms(p50))
    report.add("webhook ack p99", ms(p99))
    report.add("webhook ack max", ms(worst))
    report.add("webhook ack requests/s", f"{rps:.1f}")

    if watched.finished_after is None:
        throughput = "did not finish"
        took = f"did not finish ({watched.invited} of {n} after {INVITE_BOUND:.0f} s)"
        report.problems.append(f"only {watched.invited} of {n} invitations within the bound")
    else:
        throughput = f"{n / watched.finished_after:.2f}"
        took = f"{watched.finished_after:.1f} s"
    table(
        f"2. Invitation throughput (N={n}, vendors 300 ms/call, default Bitrix24 budget)",
        [
            ("invitations seen", f"{watched.invited} of {n}"),
            ("first webhook → all invited", took),
            ("invitations/s", throughput),
            ("service peak RSS (sampled VmRSS)", mib(watched.peak_rss_kib)),
            ("service VmHWM", mib(watched.hwm_kib)),
        ],
    )
    report.add("first webhook → all invited", took)
    report.add("invitations/s", throughput)
    report.add("service peak RSS (VmHWM)", mib(watched.hwm_kib))


# --- 3: click to Okdesk --------------------------------------------------------------------


def _wait_invited(fakes: Fakes, issue_ids: list[int], client: httpx.Client) -> dict[int, str]:
    deadline = time.monotonic() + INVITE_BOUND
    wanted = set(issue_ids)
    while True:
        state = client.get(f"{fakes.bitrix}/_fake/state").json()
        found = {k: v for k, v in invitations(state["messages"]).items() if k in wanted}
        if len(found) == len(wanted) or time.monotonic() > deadline:
            return found
        time.sleep(INVITE_POLL)


def _rated(fakes: Fakes, issue_id: int, client: httpx.Client) -> bool:
    posts = client.get(f"{fakes.okdesk}/_fake/state").json()["rate_posts"]
    return any(issue == issue_id for issue, _body in posts)


def _click_latency(
    service: Service, fakes: Fakes, issue_id: int, token: str, client: httpx.Client
) -> float | None:
    body = click_body(f"{token}:4").replace(b"acme.bitrix24.ru", b"127.0.0.1")
    start = time.perf_counter()
    response = client.post(
        service.url + "/api/v1/bitrix/events",
        params={"token": EVENTS_TOKEN, "CLIENT_ID": CLIENT_ID},
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    if response.status_code != 200:
        return None
    while not _rated(fakes, issue_id, client):
        if time.perf_counter() - start > CLICK_BOUND:
            return None
        time.sleep(CLICK_POLL)
    return time.perf_counter() - start


def bench_clicks(postgres_url: str | None, tmp: Path, k: int, report: Report) -> None:
    """K surveys with fast fakes; one click at a time, timed until Okdesk holds the rating."""
    issue_ids = list(range(FIRST_ISSUE, FIRST_ISSUE + k))
    print(f"\n[3] {k} surveys, fast fakes, one click at a time")
    latencies: list[float] = []
    failed: list[int] = []
    with (
        fresh_database(postgres_url, tmp, "click") as database_url,
        fakes_process() as fakes,
    ):
        fakes.seed_tickets(issue_ids)
        service = start_service(fakes, database_url, tmp, "click")
        try:
            fired = asyncio.run(fire_webhooks(service, webhook_bodies(issue_ids), CONCURRENCY))
            if fired.statuses[200] != k:
                report.problems.append(f"click setup: webhook answers {dict(fired.statuses)}")
            with httpx.Client(timeout=30) as client:
                started = time.perf_counter()
                tokens = _wait_invited(fakes, issue_ids, client)
                invited_after = time.perf_counter() - started
                print(f"    {len(tokens)} of {k} invited {invited_after:.1f} s after the webhooks")
                for issue_id in issue_ids:
                    token = tokens.get(issue_id)
                    latency = (
                        None
                        if token is None
                        else _click_latency(service, fakes, issue_id, token, client)
                    )
                    if latency is None:
                        failed.append(issue_id)
                    else:
                        latencies.append(latency)
        finally:
            service.stop()

    if failed:
        report.problems.append(f"{len(failed)} clicks did not reach Okdesk: {failed[:10]}")
    rows = [("clicks timed", f"{len(latencies)} of {k}")]
    if latencies:
        p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
        rows += [
            ("min", ms(min(latencies))),
            ("p50", ms(p50)),
            ("p99", ms(p99)),
            ("max", ms(max(latencies))),
        ]
        report.add("click → Okdesk p50", ms(p50))
        report.add("click → Okdesk p99", ms(p99))
    else:
        report.add("click → Okdesk p50", "no click reached Okdesk")
        report.add("click → Okdesk p99", "no click reached Okdesk")
    table(f"3. Click → rating in Okdesk (K={k}, fast fakes, polled every 5 ms)", rows)


# --- 4: the timeout sweep ------------------------------------------------------------------


def seed_surveys(engine: Engine, pending: int, due: int, now: datetime) -> None:
    """`pending` awaiting surveys due tomorrow and `due` whose deadline passed an hour ago."""
    table_: Table = Survey.__table__  # type: ignore[attr-defined]
    later, earlier = now + timedelta(days=1), now - timedelta(hours=1)

    def row(i: int, deadline: datetime) -> dict[str, Any]:
        return {
            "token": f"bench{i:011d}",
            "issue_id": FIRST_ISSUE + i,
            "current_issue_id": FIRST_ISSUE + i,
            "state": SurveyState.AWAITING.value,
            "language": "ru",
            "bitrix_user_id": 27,
            "message_id": 90_000 + i,
            "created_at": now - timedelta(hours=2),
            "updated_at": now - timedelta(hours=2),
            "deadline_at": deadline,
            "automatic": False,
            "personal_data_purged": False,
        }

    total = pending + due
    for first in range(0, total, CHUNK):
        rows = [
            row(i, later if i < pending else earlier)
            for i in range(first, min(total, first + CHUNK))
        ]
        with engine.begin() as connection:
            connection.execute(insert(table_), rows)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))


def sweep_plan(engine: Engine, now: datetime) -> str:
    """The database's plan for the sweep's query, on one line."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            naive = now.replace(tzinfo=None).isoformat(sep=" ")
            rows = connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM survey WHERE deadline_at <= ? "
                "ORDER BY deadline_at LIMIT 500",
                (naive,),
            ).all()
            plan = "; ".join(str(r[-1]) for r in rows)
        else:
            rows = connection.exec_driver_sql(
                "EXPLAIN SELECT * FROM survey WHERE deadline_at <= %s "
                "ORDER BY deadline_at LIMIT 500",
                (now,),
            ).all()
            plan = "; ".join(re.sub(r"\s*\(cost=[^)]*\)", "", str(r[0])).strip() for r in rows)
        connection.rollback()
    return plan


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


def one_sweep(postgres_url: str | None, tmp: Path, pending: int) -> Sweep:
    """Seed a fresh database and time the due-query and one `apply_timeouts` call."""
    with fresh_database(postgres_url, tmp, f"sweep_{pending}") as database_url:
        upgrade(database_url)
        settings = make_settings(database_url)
        engine = create_db_engine(database_url, pool_size=2)
        try:
            now = utcnow()
            start = time.perf_counter()
            seed_surveys(engine, pending, DUE, now)
            seeded = time.perf_counter() - start
            plan = sweep_plan(engine, now)

            with transaction(engine) as session:
                start = time.perf_counter()
                found = len(queries.due_for_timeout(session, now, 500))
                query_seconds = time.perf_counter() - start

            start = time.perf_counter()
            swept = apply_timeouts(engine, settings, now)
            sweep_seconds = time.perf_counter() - start

            start = time.perf_counter()
            apply_timeouts(engine, settings, now)
            empty_seconds = time.perf_counter() - start

            with transaction(engine) as session:
                defaulted = session.execute(
                    select_columns(func.count()).where(col(Survey.state) == SurveyState.DEFAULTED)
                ).scalar_one()
            if swept != DUE or found != DUE:
                print(f"    P={pending}: apply_timeouts saw {swept}, the query found {found}")
            return Sweep(
                pending,
                seeded,
                query_seconds,
                found,
                sweep_seconds,
                int(defaulted),
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
    for s in sweeps:
        report.add(f"sweep P={s.pending:,} apply_timeouts", ms(s.sweep_seconds))
        report.add(f"sweep P={s.pending:,} due_for_timeout", ms(s.query_seconds))


# --- 5: sustained load ----------------------------------------------------------------------


async def _sustained(
    service: Service, bodies: list[bytes], rate: float
) -> list[tuple[float, float]]:
    """POST one webhook every 1/rate seconds; (send time, latency) of each."""
    samples: list[tuple[float, float]] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=60) as client:
        origin = time.perf_counter()

        async def one(body: bytes, at: float) -> None:
            await asyncio.sleep(max(0.0, origin + at - time.perf_counter()))
            start = time.perf_counter()
            response = await client.post(
                "/api/v1/okdesk/webhook",
                params={"token": WEBHOOK_TOKEN},
                content=body,
                headers={"content-type": "application/json"},
            )
            response.raise_for_status()
            samples.append((start - origin, time.perf_counter() - start))

        await asyncio.gather(*(one(body, i / rate) for i, body in enumerate(bodies)))
    return samples


def bench_sustained(
    postgres_url: str | None, tmp: Path, rate: float, seconds: int, report: Report
) -> None:
    """Webhooks at a steady rate while both fakes take 300 ms a call: p99 per window, memory."""
    n = int(rate * seconds)
    issue_ids = list(range(FIRST_ISSUE + 200_000, FIRST_ISSUE + 200_000 + n))
    print(f"\n[5] {rate:.0f} webhooks/s for {seconds} s, fakes at {SLOW_LATENCY}s per call")
    with (
        fresh_database(postgres_url, tmp, "load") as database_url,
        fakes_process("--latency", SLOW_LATENCY) as fakes,
    ):
        fakes.seed_tickets(issue_ids)
        service = start_service(fakes, database_url, tmp, "load")
        try:
            pid = service_pid(service)
            before, _ = proc_memory(pid)
            samples = asyncio.run(_sustained(service, webhook_bodies(issue_ids), rate))
            after, hwm = proc_memory(pid)
        finally:
            service.stop()
    window = 5.0
    rows = []
    p99s = []
    for start in range(0, seconds, int(window)):
        latencies = [lat for at, lat in samples if start <= at < start + window]
        if latencies:
            p99 = percentile(latencies, 0.99)
            p99s.append(p99)
            rows.append(
                (
                    f"{start:>3}-{start + int(window)} s p50 / p99",
                    f"{ms(percentile(latencies, 0.5))} / {ms(p99)}",
                )
            )
    rows.append(("RSS before / after / peak", f"{mib(before)} / {mib(after)} / {mib(hwm)}"))
    table(f"5. Sustained load ({rate:.0f}/s for {seconds} s, vendors 300 ms/call)", rows)
    report.add("sustained p99 per 5 s window", " ".join(ms(p) for p in p99s))
    report.add("sustained RSS before / after", f"{mib(before)} / {mib(after)}")


# --- 6: 1,000 tickets at once against the rate-limited portal -----------------------------


def bench_rate_limited(postgres_url: str | None, tmp: Path, n: int, report: Report) -> None:
    """N closures at once, Bitrix24 enforcing burst 50 and 2 requests a second."""
    issue_ids = list(range(FIRST_ISSUE + 400_000, FIRST_ISSUE + 400_000 + n))
    print(f"\n[6] {n} closures at once, fake Bitrix24 enforcing burst 50, 2 requests/s")
    with (
        fresh_database(postgres_url, tmp, "limit") as database_url,
        fakes_process("--rate-limit") as fakes,
    ):
        fakes.seed_tickets(issue_ids)
        service = start_service(fakes, database_url, tmp, "limit")
        try:
            _, watched = asyncio.run(
                _acknowledge_and_invite(service, fakes, webhook_bodies(issue_ids))
            )
            state = fakes.state("bitrix")
        finally:
            service.stop()
    batches = int(state.get("calls_by_method", {}).get("batch", 0))
    requests = int(state["http_requests"])
    least = max(0.0, (requests - 50) / 2)
    unbatched = max(0.0, (2 * n - 50) / 2)
    took = f"{watched.finished_after:.1f} s" if watched.finished_after else "did not finish"
    table(
        f"6. {n} tickets closed at once, rate-limited Bitrix24 (burst 50, 2/s)",
        [
            ("invited", f"{watched.invited} of {n}"),
            ("first webhook → all invited", took),
            ("Bitrix24 requests (batch + single)", f"{requests} ({batches} batch)"),
            ("least time the limit allows for them", f"{least:.1f} s"),
            ("least time without batch (2 calls each)", f"{unbatched:.0f} s"),
            ("QUERY_LIMIT_EXCEEDED answers", str(state.get("rejected_for_limit"))),
        ],
    )
    report.add(f"{n} at once: all invited after", took)
    report.add(f"{n} at once: Bitrix24 requests / least time", f"{requests} / {least:.1f} s")
    report.add(f"{n} at once: QUERY_LIMIT_EXCEEDED", str(state.get("rejected_for_limit")))
    if watched.invited < n:
        report.problems.append(f"only {watched.invited} of {n} invited under the rate limit")


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL; the benchmark creates and drops databases of its own beside it "
        "(default: SQLite files in a temp dir)",
    )
    parser.add_argument("--quick", action="store_true", help="N=200, K=30, P up to 10,000")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the four benchmarks and print their figures."""
    args = parse_args(argv)
    postgres_url: str | None = args.database_url
    if postgres_url is not None and make_url(postgres_url).get_backend_name() != "postgresql":
        print("--database-url must be a postgresql:// URL", file=sys.stderr)
        return 2
    n, k = (200, 30) if args.quick else (500, 100)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    kind = "PostgreSQL" if postgres_url else "SQLite (file in a temp dir)"
    print(f"Benchmark: database {kind}; N={n}, K={k}, P={sizes}, D={DUE}", flush=True)
    report = Report()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as directory:
        tmp = Path(directory)
        bench_acknowledgement(postgres_url, tmp, n, report)
        bench_clicks(postgres_url, tmp, k, report)
        bench_sweep(postgres_url, tmp, sizes, report)
        rate, seconds = (20.0, 10) if args.quick else (40.0, 30)
        bench_sustained(postgres_url, tmp, rate, seconds, report)
        bench_rate_limited(postgres_url, tmp, 300 if args.quick else 1000, report)
    total = time.perf_counter() - began

    report.add("total run time", f"{total:.1f} s")
    width = max(len(name) for name, _ in report.figures)
    print()
    print(f"Figures ({kind}, {'quick' if args.quick else 'full'})")
    for name, value in report.figures:
        print(f"  {name:<{width}}  {value}")
    if report.problems:
        print()
        print("Problems")
        for problem in report.problems:
            print(f"  {problem}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
