"""The benchmark's baseline and its figures: the naive app (bench/naive.py) answers the closure
webhook only after the vendors did their part, and a tiny run fills the JSON line. No timing is
asserted: the benchmark prints figures, this only checks what they are made of."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from bench.baseline import bench_naive, naive_on
from bench.load import least_label, least_seconds
from bench.report import Report
from harness.constants import ROOT, WEBHOOK_TOKEN
from harness.payloads import closed_webhook
from harness.processes import fakes_process

ISSUE = 4242


def _post_closure(url: str, issue_id: int, token: str = WEBHOOK_TOKEN) -> httpx.Response:
    """The real closure webhook, as Okdesk posts it."""
    return httpx.post(
        f"{url}/api/v1/okdesk/webhook",
        params={"token": token},
        json=closed_webhook(issue_id),
        timeout=30,
    )


def test_the_naive_app_answers_after_the_message_is_sent(tmp_path: Path) -> None:
    with fakes_process() as fakes:
        fakes.seed_tickets([ISSUE])
        with naive_on(fakes, tmp_path) as naive:
            refused = _post_closure(naive.url, ISSUE, token="wrong")
            answer = _post_closure(naive.url, ISSUE)
            # Read right after the answer: the message is already in the portal.
            bitrix = fakes.state("bitrix")
            okdesk = fakes.state("okdesk")
    assert refused.status_code == 401
    assert answer.status_code == 200, answer.text
    sent = [m for m in bitrix["messages"].values() if f"№{ISSUE}" in m["MESSAGE"]]
    assert [str(m["ID"]) for m in sent] == [str(answer.json()["message_id"])]
    assert sent[0]["DIALOG_ID"] == "27"  # the fixture user found by the contact's e-mail
    assert bitrix["calls_by_method"]["user.get"] == 1
    assert bitrix["calls_by_method"]["imbot.message.add"] == 1
    assert okdesk["requests"] == 2  # the issue, then its contact


def test_the_naive_app_answers_502_and_sends_nothing_when_okdesk_fails(tmp_path: Path) -> None:
    with fakes_process() as fakes:
        fakes.seed_tickets([ISSUE])
        fakes.fail("okdesk", "issue", [503])
        with naive_on(fakes, tmp_path) as naive:
            answer = _post_closure(naive.url, ISSUE)
            bitrix = fakes.state("bitrix")
    assert answer.status_code == 502
    assert "imbot.message.add" not in bitrix["calls_by_method"]


def test_a_tiny_naive_run_fills_the_json_line(tmp_path: Path) -> None:
    report = Report()
    report.put("ack_p50_ms", 2.0)
    report.put("ack_p99_ms", 4.0)
    bench_naive(tmp_path, 3, report)
    figures = json.loads(report.json_line())
    assert report.problems == []
    assert figures["naive_ack_p50_ms"] <= figures["naive_ack_p99_ms"]
    # Both are rounded for print (the ms to 0.1, the ratio to 0.1): compare within that.
    assert abs(figures["ack_p99_ratio"] - figures["naive_ack_p99_ms"] / 4.0) <= 0.1


def test_the_least_time_is_what_the_bucket_allows() -> None:
    assert least_seconds(40, burst=50, drain_per_second=2.0) == 0.0
    assert least_seconds(50, burst=50, drain_per_second=2.0) == 0.0
    assert least_seconds(1050, burst=50, drain_per_second=2.0) == 500.0
    assert least_seconds(60, burst=10, drain_per_second=0.5) == 100.0


def test_the_report_page_benchmark_runs_as_the_readme_says() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--report-page", "--surveys", "30", "--requests", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for figure in (
        "GET /admin p50 / p95",
        "GET /admin, engineer and group filters, p50 / p95",
        "GET /metrics p50 / p95, no ANALYZE",
        "GET /metrics p50 / p95, after ANALYZE",
    ):
        # Each beside the release before's: "p50 / p95  →  p50 / p95".
        assert re.search(rf"{re.escape(figure)}.* ms  →  .* ms\n", done.stdout), figure
    assert re.search(r"bytes per survey.* +[\d,]+  →  [\d,]+\n", done.stdout)
    assert re.search(r"surveys \(all in the last 30 days\) +30\n", done.stdout)


def test_the_benchmark_help_defines_its_terms() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    for term in ("N   ", "K   ", "P   ", "D   ", "p50/p99  ", "ack  "):
        assert f"\n  {term}" in done.stdout, term
    assert "\n--report-page" in done.stdout


def test_the_least_time_says_why_it_is_zero() -> None:
    assert least_label(0.0, 41, 50) == "0.0 s (41 requests fit in the burst of 50: none waits)"
    assert least_label(500.0, 1050, 50) == "500.0 s"
