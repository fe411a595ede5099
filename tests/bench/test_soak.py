"""The soak benchmark (bench/soak.py) measures what it says: the backlog counts only jobs that
are due (a reminder set for tomorrow is not behind), CPU is read from /proc, and a short run
fills its figures. No timing is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.report import Report
from bench.soak import Sample, _report, cpu_seconds, due_by_kind, due_jobs
from harness.constants import ROOT
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.tables import Job, JobKind, JobState


def test_the_backlog_counts_only_due_jobs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'soak.db'}"
    upgrade(url)
    engine = create_db_engine(url, pool_size=1)
    now = datetime.now(UTC)
    with transaction(engine) as session:
        for kind, at, state in [
            (JobKind.INVITE, now - timedelta(seconds=5), JobState.PENDING),
            (JobKind.REPLY, now - timedelta(seconds=1), JobState.PENDING),
            (JobKind.REMIND, now + timedelta(hours=12), JobState.PENDING),
            (JobKind.INVITE, now - timedelta(seconds=9), JobState.DONE),
        ]:
            session.add(Job(kind=kind, state=state, available_at=at, created_at=now))
    assert due_jobs(engine) == 2
    assert due_by_kind(engine) == {JobKind.INVITE.value: 1, JobKind.REPLY.value: 1}
    engine.dispose()


def test_cpu_is_read_from_proc() -> None:
    before = cpu_seconds(os.getpid())
    sum(i * i for i in range(2_000_000))
    assert cpu_seconds(os.getpid()) > before
    assert cpu_seconds(2**22 + 17) == 0.0


def test_the_figures_come_from_the_samples_after_the_first_minute() -> None:
    samples = [
        Sample(0.0, 500, 90_000, 1.0),  # warm-up: not counted
        Sample(60.0, 10, 100_000, 10.0),
        Sample(120.0, 20, 101_000, 25.0),
        Sample(180.0, 30, 105_000, 40.0),
    ]
    report = Report()
    _report(closed=3600, clicked=3500, rated=3400, samples=samples, report=report)
    line = json.loads(report.json_line())
    assert line["soak_queue_growth_per_min"] == 10.0  # 10 → 30 over 2 min
    assert line["soak_rss_growth"] == 0.05  # 100,000 → 105,000 KiB
    assert line["soak_cpu_cores"] == 0.25  # 30 CPU s over 120 s


def test_the_soak_is_started_as_the_help_says() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "bench", "--soak", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0
    assert "--minutes" in shown.stdout and "--rate" in shown.stdout
