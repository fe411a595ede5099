"""Sustained webhook load, and invitations under the portal's rate limit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.acknowledgement import Watched, _acknowledge_and_invite
from bench.report import Report, mib, ms, percentile, proc_memory, table
from bench.running.databases import fresh_database
from bench.running.service import (
    FIRST_ISSUE,
    SLOW_LATENCY,
    post_webhook,
    service_pid,
    start_service,
    webhook_bodies,
)
from bench.running.wire import Connection
from harness.processes import (
    Service,
    fakes_process,
)

# --- 5: sustained load ----------------------------------------------------------------------


async def _sustained(
    service: Service, bodies: list[bytes], rate: float
) -> list[tuple[float, float]]:
    """POST one webhook every 1/rate seconds; (send time, latency) of each."""
    samples: list[tuple[float, float]] = []
    idle: list[Connection] = []
    origin = time.perf_counter()

    async def one(body: bytes, at: float) -> None:
        await asyncio.sleep(max(0.0, origin + at - time.perf_counter()))
        connection = idle.pop() if idle else Connection(service.url)
        start = time.perf_counter()
        answer = await post_webhook(connection, body)
        samples.append((start - origin, time.perf_counter() - start))
        idle.append(connection)
        if answer.status != 200:
            raise RuntimeError(f"webhook answered {answer.status}: {answer.body[:200]!r}")

    try:
        await asyncio.gather(*(one(body, i / rate) for i, body in enumerate(bodies)))
    finally:
        for connection in idle:
            await connection.close()
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
    report.put("sustained_p99_ms_worst_window", round(max(p99s) * 1000, 1) if p99s else None)
    report.put("sustained_rss_peak_mb", round(hwm / 1024, 1))
    report.add("sustained p99 per 5 s window", " ".join(ms(p) for p in p99s))
    report.add("sustained RSS before / after", f"{mib(before)} / {mib(after)}")


# --- 6: 10,000 tickets at once against the rate-limited portal ----------------------------

# What 10,000 closures took before, as a multiple of the least time the bucket allows.
LEAST_MULTIPLE_BASELINE = 1.20


def least_seconds(requests: int, burst: int, drain_per_second: float) -> float:
    """The least time a leaky bucket (empty at the start, `burst` deep, draining
    `drain_per_second`) allows for `requests` admitted requests: the first `burst` pass at
    once, every further one waits for the bucket to drain by one."""
    return max(0.0, (requests - burst) / drain_per_second)


def least_label(least: float, requests: int, burst: int) -> str:
    """The least time, saying why it is 0 when it is: fewer requests than the burst wait for
    nothing (a run of 41 requests printed a bare "0.0 s", read as a broken figure)."""
    if requests <= burst:
        return f"{least:.1f} s ({requests} requests fit in the burst of {burst}: none waits)"
    return f"{least:.1f} s"


def _seen(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int, int]:
    """What the fake Bitrix24 saw between two looks: requests admitted, of them batches, and
    requests refused for the limit."""
    rejected = int(after.get("rejected_for_limit") or 0)
    rejected -= int(before.get("rejected_for_limit") or 0)
    batches = int(after["calls_by_method"].get("batch", 0))
    batches -= int(before["calls_by_method"].get("batch", 0))
    return _admitted(after) - _admitted(before), batches, rejected


def _admitted(state: dict[str, Any]) -> int:
    """Requests the fake Bitrix24 let through its bucket so far."""
    return int(state["http_requests"]) - int(state.get("rejected_for_limit") or 0)


def bench_rate_limited(postgres_url: str | None, tmp: Path, n: int, report: Report) -> None:
    """N closures at once, Bitrix24 enforcing its leaky bucket (burst 50, 2 requests a second)."""
    issue_ids = list(range(FIRST_ISSUE + 400_000, FIRST_ISSUE + 400_000 + n))
    print(f"\n[6] {n} closures at once, fake Bitrix24 enforcing its rate limit")
    with (
        fresh_database(postgres_url, tmp, "limit") as database_url,
        fakes_process("--rate-limit") as fakes,
    ):
        fakes.seed_tickets(issue_ids)
        service = start_service(fakes, database_url, tmp, "limit")
        try:
            before = fakes.state("bitrix")
            _, watched = asyncio.run(
                _acknowledge_and_invite(service, fakes, webhook_bodies(issue_ids))
            )
            after = fakes.state("bitrix")
        finally:
            service.stop()
    _report_rate_limited(n, watched, before, after, report)


def _report_rate_limited(
    n: int, watched: Watched, before: dict[str, Any], after: dict[str, Any], report: Report
) -> None:
    """Table 6: how long the invitations took beside the least time the bucket allows."""
    bucket = after["rate_limit"]
    burst, drain = int(bucket["burst"]), float(bucket["drain_per_second"])
    requests, batches, rejected = _seen(before, after)
    least = least_seconds(requests, burst, drain)
    finished = watched.finished_after
    took = f"{finished:.1f} s" if finished is not None else "did not finish"
    multiple = None if finished is None or least <= 0 else finished / least
    times = "—" if multiple is None else f"{multiple:.3f}×"
    table(
        f"6. {n} tickets closed at once, rate-limited Bitrix24 (burst {burst}, {drain:g}/s)",
        [
            ("invited", f"{watched.invited} of {n}"),
            ("first webhook → all invited", took),
            ("Bitrix24 requests admitted (batch + single)", f"{requests} ({batches} batch)"),
            ("least time the bucket allows for them", least_label(least, requests, burst)),
            (
                "least time without batch (2 calls each)",
                f"{least_seconds(2 * n, burst, drain):.0f} s",
            ),
            ("all invited, as a multiple of the least time", times),
            ("before (baseline, 10,000 closures)", f"{LEAST_MULTIPLE_BASELINE}×"),
            ("QUERY_LIMIT_EXCEEDED answers", str(rejected)),
        ],
    )
    report.put("rate_limited_n", n)
    report.put(f"rate_limited_{n}_s", None if finished is None else round(finished, 2))
    report.put("rate_limited_least_s", round(least, 2))
    report.put("rate_limited_requests", requests)
    report.put("rate_limited_rejected", rejected)
    report.add(f"{n} at once: all invited after", took)
    report.add(f"{n} at once: Bitrix24 requests / least time", f"{requests} / {least:.1f} s")
    report.add(f"{n} at once: × the least time", f"{times} (before: {LEAST_MULTIPLE_BASELINE}×)")
    report.put("rate_limited_least_multiple", None if multiple is None else round(multiple, 3))
    report.add(f"{n} at once: QUERY_LIMIT_EXCEEDED", str(rejected))
    if watched.invited < n:
        report.problems.append(f"only {watched.invited} of {n} invited under the rate limit")
