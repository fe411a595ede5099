"""Click-to-Okdesk latency: from a click on a rating button to the rating in Okdesk."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from bench.report import Report, ms, percentile, table
from bench.running.databases import fresh_database
from bench.running.service import (
    CONCURRENCY,
    FIRST_ISSUE,
    INVITE_BOUND,
    INVITE_POLL,
    fire_webhooks,
    invitations,
    start_service,
    webhook_bodies,
)
from harness.constants import CLIENT_ID, EVENTS_TOKEN
from harness.payloads import click_body
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
)

CLICK_POLL = 0.005
CLICK_BOUND = 60.0


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


def _time_clicks(
    service: Service, fakes: Fakes, issue_ids: list[int]
) -> tuple[list[float], list[int]]:
    """Once all are invited, click each invitation in turn; the latencies, and the tickets
    whose click never reached Okdesk."""
    latencies: list[float] = []
    failed: list[int] = []
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        tokens = _wait_invited(fakes, issue_ids, client)
        invited_after = time.perf_counter() - started
        invited = f"{len(tokens)} of {len(issue_ids)} invited"
        print(f"    {invited} {invited_after:.1f} s after the webhooks")
        for issue_id in issue_ids:
            token = tokens.get(issue_id)
            latency = (
                None if token is None else _click_latency(service, fakes, issue_id, token, client)
            )
            if latency is None:
                failed.append(issue_id)
            else:
                latencies.append(latency)
    return latencies, failed


def bench_clicks(postgres_url: str | None, tmp: Path, k: int, report: Report) -> None:
    """K surveys with fast fakes; one click at a time, timed until Okdesk holds the rating."""
    issue_ids = list(range(FIRST_ISSUE, FIRST_ISSUE + k))
    print(f"\n[3] {k} surveys, fast fakes, one click at a time")
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
            latencies, failed = _time_clicks(service, fakes, issue_ids)
        finally:
            service.stop()
    _report_clicks(latencies, failed, k, report)


def _report_clicks(latencies: list[float], failed: list[int], k: int, report: Report) -> None:
    """Table 3: from a click to the rating in Okdesk."""
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
        report.put_ms("click_p50_ms", p50)
        report.put_ms("click_p99_ms", p99)
        report.add("click → Okdesk p50", ms(p50))
        report.add("click → Okdesk p99", ms(p99))
    else:
        report.put("click_p50_ms", None)
        report.put("click_p99_ms", None)
        report.add("click → Okdesk p50", "no click reached Okdesk")
        report.add("click → Okdesk p99", "no click reached Okdesk")
    table(f"3. Click → rating in Okdesk (K={k}, fast fakes, polled every 5 ms)", rows)
