"""Benchmark of the service: webhook acknowledgement (beside a naive design that calls the
vendors inside the request, bench/naive.py), invitation throughput, click-to-Okdesk
latency and the cost of the timeout sweep. Not a pytest test: run it as

    .venv/bin/python -m bench [--database-url postgresql://...] [--quick]

The service and the fake vendors run as real processes on 127.0.0.1 (harness/processes.py).
The database is a fresh SQLite file in a temp dir, or, with --database-url, a PostgreSQL
database of the benchmark's own (created next to the given one and dropped at the end).
Nothing here asserts anything about time: it prints tables and, last, one line of JSON with
every figure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from bench import report_page, soak
from bench.acknowledgement import bench_acknowledgement
from bench.baseline import bench_naive
from bench.clicks import bench_clicks
from bench.load import bench_rate_limited, bench_sustained
from bench.pace.figures import bench_closures, bench_wave
from bench.pace.portals import bench_portals
from bench.report import Report
from bench.running.service import DUE
from bench.sweep import bench_sweep

# --- main ----------------------------------------------------------------------------------


TERMS = """terms:
  N   closure webhooks fired at the service for the acknowledgement figures (500; --quick 200)
  K   button clicks whose way from the click to Okdesk's rating is timed (100; --quick 30)
  P   surveys waiting when the timeout sweep is timed (1,000 to 100,000; --quick to 10,000)
  D   surveys falling due at once in each sweep (100)
  W   clicks of the wave under the portal's limit, timed until all are thanked (300; --quick 60)
  C   closures at realistic latency, timed until all are invited (1,000; --quick 200)
  L   closures at once under the portal's limit, beside the least time it allows (10,000;
      --quick 300)
  M   closures per portal, 3 portals side by side beside one alone (200; --quick 50)
  p50/p99  the median and the 99th percentile of the times measured
  ack  the time from sending a webhook to receiving its answer (16 senders, kept-alive)

--report-page [--surveys S] [--requests R] [--database-url URL] times GET /admin and GET
/metrics with S surveys (a million) beside the release before, and bytes per survey, instead
(bench.report_page).
--soak [--minutes M] [--rate R] runs closures and clicks at R a second each for M minutes and
  prints the job queue, memory and CPU (bench.soak)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        epilog=TERMS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL URL; the benchmark creates and drops databases of its own beside it "
        "(default: SQLite files in a temp dir)",
    )
    parser.add_argument("--quick", action="store_true", help="N=200, K=30, P up to 10,000")
    parser.add_argument(
        "--pace",
        action="store_true",
        help="only the pace figures: a wave of W clicks and C closures at realistic latency",
    )
    parser.add_argument(
        "--portals",
        action="store_true",
        help="only the portals figure: 3 portals × M closures beside one portal's M alone",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks and print their figures (`--report-page`: the report page's)."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["--report-page"]:
        return report_page.main(arguments[1:])
    if arguments[:1] == ["--soak"]:
        return soak.main(arguments[1:])
    args = parse_args(arguments)
    postgres_url: str | None = args.database_url
    if postgres_url is not None and make_url(postgres_url).get_backend_name() != "postgresql":
        print("--database-url must be a postgresql:// URL", file=sys.stderr)
        return 2
    n, k = (200, 30) if args.quick else (500, 100)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    kind = "PostgreSQL" if postgres_url else "SQLite (file in a temp dir)"
    print(f"Benchmark: database {kind}; N={n}, K={k}, P={sizes}, D={DUE}", flush=True)
    report = Report()
    report.put("database", "postgresql" if postgres_url else "sqlite")
    report.put("quick", bool(args.quick))
    report.put("n", n)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as directory:
        tmp = Path(directory)
        if not (args.pace or args.portals):
            _figures(args, postgres_url, tmp, report)
        if not args.pace:
            bench_portals(postgres_url, tmp, 50 if args.quick else 200, report)
        if not args.portals:
            wave, closures = (60, 200) if args.quick else (300, 1_000)
            bench_wave(postgres_url, tmp, wave, report)
            bench_closures(postgres_url, tmp, closures, report)
    total = time.perf_counter() - began

    report.add("total run time", f"{total:.1f} s")
    report.put("total_s", round(total, 1))
    report.put("problems", len(report.problems))
    _print_summary(report, f"{kind}, {'quick' if args.quick else 'full'}")
    return 1 if report.problems else 0


def _figures(args: argparse.Namespace, postgres_url: str | None, tmp: Path, report: Report) -> None:
    """Every figure but the pace ones."""
    n, k = (200, 30) if args.quick else (500, 100)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    bench_acknowledgement(postgres_url, tmp, n, report)
    bench_naive(tmp, n, report)
    bench_clicks(postgres_url, tmp, k, report)
    bench_sweep(postgres_url, tmp, sizes, report)
    rate, seconds = (20.0, 10) if args.quick else (40.0, 30)
    bench_sustained(postgres_url, tmp, rate, seconds, report)
    bench_rate_limited(postgres_url, tmp, 300 if args.quick else 10_000, report)


def _print_summary(report: Report, title: str) -> None:
    """The figures block, the problems, and last the one JSON line."""
    width = max(len(name) for name, _ in report.figures)
    print()
    print(f"Figures ({title})")
    for name, value in report.figures:
        print(f"  {name:<{width}}  {value}")
    if report.problems:
        print()
        print("Problems")
        for problem in report.problems:
            print(f"  {problem}")
    print()
    print(report.json_line(), flush=True)


if __name__ == "__main__":
    sys.exit(main())
