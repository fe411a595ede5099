"""How fast the report page answers with 100,000 surveys in SQLite:

    .venv/bin/python -m bench.report_page [--surveys 100000] [--requests 20]

(also `python -m bench --report-page`). All the surveys fall in the default period (the last
30 days), the worst case: every figure reads them all. The app runs in-process over a SQLite
file; the time is the whole request (queries, figures, HTML), p50 and p95.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import insert

from bench.report import ms, percentile, table
from harness.app import running_app
from harness.vendors import make_settings, seeded_vendors
from storage.db import create_db_engine
from storage.migrate import upgrade
from storage.tables import Survey, SurveyState, utcnow

TOKEN = "bench-admin-token-0123456789"
ENGINEERS = [f"Инженер {n}" for n in range(40)]
GROUPS = [f"Группа {n}" for n in range(8)]
STATES = (
    [SurveyState.RATED] * 6
    + [SurveyState.DEFAULTED] * 2
    + [
        SurveyState.AWAITING,
        SurveyState.UNDELIVERABLE,
        SurveyState.FAILED,
    ]
)


def _row(n: int, rng: random.Random, now: Any) -> dict[str, Any]:
    state = rng.choice(STATES)
    created = now - timedelta(seconds=rng.randrange(29 * 86400))
    rated = state in (SurveyState.RATED, SurveyState.DEFAULTED)
    return {
        "token": f"b{n:012d}",
        "issue_id": n,
        "current_issue_id": n,
        "state": state,
        "language": "ru",
        "engineer": rng.choice(ENGINEERS),
        "engineer_group": rng.choice(GROUPS),
        "message_id": None if state in (SurveyState.UNDELIVERABLE, SurveyState.FAILED) else n,
        "score": rng.choice([1, 2, 3, 4, 4, 5, 5, 5]) if rated else None,
        "automatic": state == SurveyState.DEFAULTED,
        "reply_text": rng.choice(["Комментарий", "5"]) if rated and rng.random() < 0.2 else None,
        "followup_text": "Что пошло не так" if rated and rng.random() < 0.05 else None,
        "reason": "Okdesk answered 500" if state == SurveyState.FAILED else None,
        "is_test": False,
        "personal_data_purged": False,
        "created_at": created,
        "updated_at": created,
        "answered_at": created + timedelta(hours=1) if rated else None,
    }


def seed(url: str, count: int) -> None:
    """`count` surveys of the last 30 days, in batches."""
    upgrade(url)
    engine = create_db_engine(url, pool_size=1)
    rng, now = random.Random(11), utcnow()
    with engine.begin() as connection:
        for first in range(1, count + 1, 5000):
            rows = [_row(n, rng, now) for n in range(first, min(first + 5000, count + 1))]
            connection.execute(insert(Survey), rows)
    engine.dispose()


# One engineer's surveys in one group, the filters a team lead would set.
FILTERS = "?" + urlencode({"engineer": ENGINEERS[7], "group": GROUPS[3]})


async def measure(url: str, requests: int, query: str = "") -> list[float]:
    """Seconds each of `requests` GET /admin`query` took (after one warm-up)."""
    settings = make_settings(url, admin_token=TOKEN, worker_enabled=False)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    timings = []
    async with running_app(settings, seeded_vendors()) as running:
        await running.client.get(f"/admin{query}", headers=headers)
        for _ in range(requests):
            began = time.perf_counter()
            answer = await running.client.get(f"/admin{query}", headers=headers)
            timings.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.text
    return timings


def run(surveys: int, requests: int) -> list[tuple[str, str]]:
    """Seed, measure, and the figures as table rows."""
    with tempfile.TemporaryDirectory(prefix="bench-report-") as directory:
        url = f"sqlite:///{Path(directory) / 'rating.db'}"
        began = time.perf_counter()
        seed(url, surveys)
        seeded = time.perf_counter() - began
        timings = asyncio.run(measure(url, requests))
        filtered = asyncio.run(measure(url, requests, FILTERS))
    return [
        ("surveys (all in the last 30 days)", f"{surveys:,}"),
        ("seeding", f"{seeded:.1f} s"),
        (f"GET /admin p50 ({requests} requests)", ms(percentile(timings, 0.5))),
        ("GET /admin p95", ms(percentile(timings, 0.95))),
        ("GET /admin max", ms(max(timings))),
        ("GET /admin, engineer and group filters, p50", ms(percentile(filtered, 0.5))),
        ("GET /admin, engineer and group filters, p95", ms(percentile(filtered, 0.95))),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.report_page", description=__doc__)
    parser.add_argument("--surveys", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args(argv)
    table("The report page on SQLite", run(args.surveys, args.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
