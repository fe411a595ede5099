"""The report page and /metrics with a million surveys, beside the release before, and what a
survey costs in bytes:

    .venv/bin/python -m bench.report_page [--surveys 1000000] [--requests 20]
                                          [--database-url postgresql://...]

(also `python -m bench --report-page …`). One database (a SQLite file in a temp dir, or a
PostgreSQL database of its own beside --database-url) gets the schema of the release before
(migration 0013) and `--surveys` surveys of the last 29 days with their jobs, written in bulk
SQL (`bench/running/bulk.py`). The release before (commit BEFORE, taken from git) serves GET /admin
and GET /metrics from it; then the database is upgraded as a start of this release upgrades
it (the per-day counts built, the indexes changed, SQLite converted to incremental
auto-vacuum), and this release serves them. Each is timed in a process of its own through the
app in-process (queries, figures, HTML), `--requests` requests after one warm-up: p50 / p95
(/metrics a second apart: the app keeps a scrape for a second).
/metrics is timed again after ANALYZE; on SQLite the statistics are dropped before the
upgrade, so "no ANALYZE" means none. PostgreSQL is measured as autovacuum soon leaves it:
VACUUM ANALYZE after the load and after the upgrade.
Bytes per survey: tables and indexes (SQLite: pages in use after a checkpoint) over the
surveys, each with its invitation job and, once rated, its rating job (finished jobs are kept
until PERSONAL_DATA_RETENTION).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.report import ms, percentile, table
from bench.running.bulk import fill
from bench.running.databases import fresh_database
from harness.constants import ROOT
from storage.db import create_db_engine
from storage.migrate import alembic_config, upgrade
from storage.tables import utcnow

# The release before the per-day counts, and the schema it had.
BEFORE, BEFORE_REVISION = "815e9fe", "0013"
TOKEN = "bench-admin-token-0123456789"
# A team lead's filters (counted by day), and a company (counted from the surveys directly).
TEAM = "/admin?" + urlencode({"engineer": "Инженер 7", "group": "Группа 3"})
COMPANY = "/admin?" + urlencode({"company": "ООО Компания 7"})
PATHS = ("/admin", TEAM, COMPANY, "/metrics")

# Run by each release's own code (the harness has the same shape in both): the app in-process,
# each path timed; prints {path: [seconds, ...]}.
SERVE = """
import asyncio, json, sys, time
from harness.app import running_app
from harness.vendors import make_settings, seeded_vendors

async def main(url, requests, paths):
    settings = make_settings(url, admin_token=sys.argv[4], worker_enabled=False)
    headers = {"Authorization": "Bearer " + sys.argv[4]}
    found = {}
    async with running_app(settings, seeded_vendors()) as running:
        for path in paths:
            await running.client.get(path, headers=headers)
            found[path] = []
            for _ in range(requests):
                if path == "/metrics":  # a scrape is kept a second: this one reads anew
                    await asyncio.sleep(1.05)
                began = time.perf_counter()
                answer = await running.client.get(path, headers=headers)
                found[path].append(time.perf_counter() - began)
                assert answer.status_code == 200, (path, answer.status_code)
    print("TIMES " + json.dumps(found))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(" ")))
"""


def _release_before(tmp: Path) -> Path | None:
    """The release before's code (git archive), or None without the repository's history."""
    archived = subprocess.run(
        ["git", "-C", str(ROOT), "archive", BEFORE], capture_output=True, check=False
    )
    if archived.returncode != 0:
        return None
    tree = tmp / "before"
    with tarfile.open(fileobj=io.BytesIO(archived.stdout)) as archive:
        archive.extractall(tree, filter="data")
    return tree


def _serve(tree: Path, url: str, requests: int, paths: tuple[str, ...]) -> dict[str, list[float]]:
    """Seconds of each request to each path, served by the code in `tree`."""
    done = subprocess.run(
        [sys.executable, "-c", SERVE, url, str(requests), " ".join(paths), TOKEN],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("TIMES ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"serving from {tree} failed: {done.stderr[-2000:]}")
    found: dict[str, list[float]] = json.loads(line.removeprefix("TIMES "))
    return found


def _analyze(engine: Engine, *, forget: bool = False) -> None:
    """Gather the planner's statistics (`forget`: on SQLite, drop them instead)."""
    with engine.begin() as connection:
        if not forget:
            connection.exec_driver_sql("ANALYZE")
        elif engine.dialect.name == "sqlite":
            stats = "SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'"
            for (name,) in connection.exec_driver_sql(stats).all():
                connection.exec_driver_sql(f"DELETE FROM {name}")


def _settled(engine: Engine) -> None:
    """PostgreSQL: the tables as autovacuum soon leaves them after a bulk load or a migration
    (visibility map set, statistics gathered); measured right after the load, every index-only
    read went to the table too, as no installation runs for long."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql("VACUUM ANALYZE")


def _as_made_before(engine: Engine) -> None:
    """SQLite: a file without incremental auto-vacuum, as the release before made them (the
    upgrade converts it: its VACUUM is part of the upgrade's time)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            sqlite = raw.driver_connection
            assert sqlite is not None
            sqlite.execute("PRAGMA auto_vacuum = NONE")
            sqlite.execute("VACUUM")
        finally:
            raw.close()


def _measure(tree: Path, url: str, engine: Engine, requests: int) -> dict[str, list[float]]:
    """Every path's timings, and /metrics' again after ANALYZE."""
    found = _serve(tree, url, requests, PATHS)
    _analyze(engine)
    found["analyzed"] = _serve(tree, url, requests, ("/metrics",))["/metrics"]
    return found


def database_bytes(engine: Engine) -> int:
    """What the tables and indexes take (SQLite: the pages in use, after a checkpoint)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()  # outside a transaction: a checkpoint cannot run in one
        try:
            sqlite = raw.driver_connection
            assert sqlite is not None
            sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages, free, size = (
                sqlite.execute(f"PRAGMA {name}").fetchone()[0]
                for name in ("page_count", "freelist_count", "page_size")
            )
        finally:
            raw.close()
        return int((pages - free) * size)
    with engine.connect() as connection:
        statement = text(
            "SELECT sum(pg_total_relation_size(oid)) FROM pg_class "
            "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
        )
        return int(connection.execute(statement).scalar_one())


def seed(url: str, count: int) -> None:
    """A database of this release with `count` surveys of the last 29 days (`running.bulk`)."""
    upgrade(url)
    engine = create_db_engine(url, pool_size=1)
    try:
        fill(engine, count, utcnow())
    finally:
        engine.dispose()


def _p(times: list[float]) -> str:
    return f"{ms(percentile(times, 0.5))} / {ms(percentile(times, 0.95))}"


def _rows(
    before: dict[str, list[float]] | None, after: dict[str, list[float]], requests: int
) -> list[tuple[str, str]]:
    names = {
        "/admin": f"GET /admin p50 / p95 ({requests} requests)",
        TEAM: "GET /admin, engineer and group filters, p50 / p95",
        COMPANY: "GET /admin, company filter (counted directly), p50 / p95",
        "/metrics": "GET /metrics p50 / p95, no ANALYZE",
        "analyzed": "GET /metrics p50 / p95, after ANALYZE",
    }
    rows = []
    for key, name in names.items():
        then = _p(before[key]) if before else "(no git history)"
        rows.append((name, f"{then}  →  {_p(after[key])}"))
    return rows


def run(postgres_url: str | None, surveys: int, requests: int) -> list[tuple[str, str]]:
    """Build, measure before, upgrade, measure after: the figures as table rows."""
    with tempfile.TemporaryDirectory(prefix="bench-report-") as directory:
        tmp = Path(directory)
        tree = _release_before(tmp)
        with fresh_database(postgres_url, tmp, "report") as url:
            command.upgrade(alembic_config(url), BEFORE_REVISION)
            engine = create_db_engine(url, pool_size=1)
            try:
                _as_made_before(engine)
                began = time.perf_counter()
                fill(engine, surveys, utcnow())
                seeded = time.perf_counter() - began
                _settled(engine)
                bytes_before = database_bytes(engine)
                before = _measure(tree, url, engine, requests) if tree else None
                _analyze(engine, forget=True)
                began = time.perf_counter()
                upgrade(url)
                upgraded = time.perf_counter() - began
                _settled(engine)
                after = _measure(ROOT, url, engine, requests)
                bytes_after = database_bytes(engine)
            finally:
                engine.dispose()
    return [
        ("surveys (all in the last 30 days)", f"{surveys:,}"),
        ("seeding (bulk SQL), upgrade", f"{seeded:.1f} s, {upgraded:.1f} s"),
        *_rows(before, after, requests),
        (
            "bytes per survey (tables, indexes)",
            f"{bytes_before / surveys:,.0f}  →  {bytes_after / surveys:,.0f}",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.report_page",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--surveys", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    args = parser.parse_args(argv)
    kind = "PostgreSQL" if args.database_url else "SQLite"
    rows = run(args.database_url, args.surveys, args.requests)
    table(f"The report page and /metrics on {kind}: {BEFORE} (before)  →  this release", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
