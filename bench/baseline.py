"""The naive design's webhook acknowledgement (bench/naive.py), measured the way ours is: the
same N closures, 16 concurrent senders, both fakes at 300 ms a call."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.report import Report, ms, table
from bench.running.service import (
    CONCURRENCY,
    FIRST_ISSUE,
    SLOW_LATENCY,
    Fired,
    fire_webhooks,
    webhook_bodies,
)
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    register_bot,
    service_env,
)


@contextmanager
def naive_on(fakes: Fakes, tmp: Path) -> Iterator[Service]:
    """The naive app as a process against these fakes (its bot registered as ours would be)."""
    env = service_env(fakes, f"sqlite:///{tmp / 'naive-register.db'}", free_port())
    register_bot(env, tmp)
    naive = Service(env, tmp / "naive.log", module="bench.naive")
    naive.start(wait=False)
    try:
        naive.wait_healthy()
        yield naive
    finally:
        naive.stop()


def bench_naive(tmp: Path, n: int, report: Report) -> None:
    """Fire N closure webhooks at the naive app; time the answers."""
    issue_ids = list(range(FIRST_ISSUE + 600_000, FIRST_ISSUE + 600_000 + n))
    print(f"\n[1b] naive baseline: {n} webhooks, concurrency {CONCURRENCY}, fakes at 300 ms")
    with fakes_process("--latency", SLOW_LATENCY) as fakes:
        fakes.seed_tickets(issue_ids)
        with naive_on(fakes, tmp) as naive:
            fired = asyncio.run(
                fire_webhooks(naive, webhook_bodies(issue_ids), CONCURRENCY, warm_up=True)
            )
    _report_naive(fired, n, report)


def _report_naive(fired: Fired, n: int, report: Report) -> None:
    """Table 1b: the naive design beside ours (ours must have been measured first)."""
    p50, p99 = fired.p50_p99(report, "naive webhook")
    report.put_ms("naive_ack_p50_ms", p50)
    report.put_ms("naive_ack_p99_ms", p99)
    ours_p50 = report.values.get("ack_p50_ms")
    ours_p99 = report.values.get("ack_p99_ms")
    ratio = None
    if isinstance(ours_p99, float) and ours_p99 > 0:
        ratio = round(p99 * 1000 / ours_p99, 1)
    report.put("ack_p99_ratio", ratio)
    table(
        f"1b. Acknowledgement: ours beside a naive design (N={n}, concurrency {CONCURRENCY})",
        [
            ("naive: vendors called inside the request", f"{fired.statuses[200]} of {n} HTTP 200"),
            ("naive p50 / p99", f"{ms(p50)} / {ms(p99)}"),
            ("ours p50 / p99", f"{ours_p50} ms / {ours_p99} ms"),
            ("naive p99 / ours p99", "-" if ratio is None else f"{ratio}×"),
        ],
    )
    report.add("naive ack p50 / p99", f"{ms(p50)} / {ms(p99)}")
    report.add("naive p99 / ours p99", "-" if ratio is None else f"{ratio}×")
