"""Webhook acknowledgement latency and invitation throughput, with slow vendors."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import Report, mib, ms, proc_memory, table
from bench.running.databases import fresh_database
from bench.running.service import (
    CONCURRENCY,
    FIRST_ISSUE,
    INVITE_BOUND,
    INVITE_POLL,
    SLOW_LATENCY,
    Fired,
    fire_webhooks,
    invitations,
    service_pid,
    start_service,
    webhook_bodies,
)
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
)


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


# --- 1 and 2: webhook acknowledgement and invitation throughput ----------------------------


async def _acknowledge_and_invite(
    service: Service, fakes: Fakes, bodies: list[bytes]
) -> tuple[Fired, Watched]:
    started = asyncio.Event()
    watcher = asyncio.create_task(
        watch_invitations(fakes, service_pid(service), len(bodies), started)
    )
    try:
        fired = await fire_webhooks(service, bodies, CONCURRENCY, started, warm_up=True)
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
    _report_acknowledgement(fired, n, report)
    _report_invitations(watched, n, report)


def _report_acknowledgement(fired: Fired, n: int, report: Report) -> None:
    """Table 1: how fast the webhooks were answered."""
    p50, p99 = fired.p50_p99(report, "webhook")
    worst = max(fired.latencies)
    rps = len(fired.latencies) / fired.elapsed
    results = ", ".join(f"{name} {count}" for name, count in sorted(fired.results.items()))
    cold = max(fired.cold, default=0.0)
    table(
        f"1. Webhook acknowledgement (N={n}, concurrency {CONCURRENCY}, vendors 300 ms/call)",
        [
            ("untimed first answers, one per connection", str(len(fired.cold))),
            ("  their slowest (a fresh process)", ms(cold)),
            ("requests timed", str(len(fired.latencies))),
            ("HTTP 200", f"{fired.statuses[200]} of {len(fired.latencies) + len(fired.cold)}"),
            ("results", results or "-"),
            ("p50", ms(p50)),
            ("p99", ms(p99)),
            ("max", ms(worst)),
            ("wall time", f"{fired.elapsed:.2f} s"),
            ("requests/s", f"{rps:.1f}"),
        ],
    )
    report.put_ms("ack_p50_ms", p50)
    report.put_ms("ack_p99_ms", p99)
    report.put_ms("ack_max_ms", worst)
    report.put_ms("ack_cold_max_ms", cold)
    report.add("webhook ack p50", ms(p50))
    report.add("webhook ack p99", ms(p99))
    report.add("webhook ack max", ms(worst))
    report.add("webhook ack, first answers of a fresh process", ms(cold))
    report.add("webhook ack requests/s", f"{rps:.1f}")


def _report_invitations(watched: Watched, n: int, report: Report) -> None:
    """Table 2: how fast every ticket was invited."""
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
    finished = watched.finished_after
    report.put("invite_all_s", None if finished is None else round(finished, 2))
    report.put("rss_peak_mb", round(watched.hwm_kib / 1024, 1))
    report.add("first webhook → all invited", took)
    report.add("invitations/s", throughput)
    report.add("service peak RSS (VmHWM)", mib(watched.hwm_kib))
