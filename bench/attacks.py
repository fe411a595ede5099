"""Attacks on the web side that need no secret, each beside its baseline in one run (issue 23,
points 5, 6 and 11):

    .venv/bin/python -m bench.attacks [--surveys 20000] [--clicks 20]

1. Silent connections: webhooks answered of those sent (one every 0.1 s, 5 s timeout) with no
   attack, then while one address, and then ten, hold 200 silent connections each (opened
   again as soon as the service closes them), HTTP_MAX_CONNECTIONS=200.
2. A flood of 401s (wrong webhook token, 4 senders): click → rating in Okdesk p50, beside the
   same clicks with no flood.
3. The report page reloaded without pause (`--surveys` in SQLite): webhook p50, beside none.
The service and the fakes run as processes on 127.0.0.1, SQLite. Nothing is asserted: it
prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import selectors
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench import report_page
from bench.clicks import _click_latency, _wait_invited
from bench.report import ms, percentile, table
from bench.running.service import CONCURRENCY, FIRST_ISSUE, fire_webhooks, webhook_bodies
from harness.constants import WEBHOOK_TOKEN
from harness.payloads import closed_webhook
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    register_bot,
    service_env,
)
from harness.senders import WEBHOOK

ADMIN_TOKEN = report_page.TOKEN
MAX_CONNECTIONS = 200


@contextmanager
def attacking(work: Callable[[threading.Event], None], threads: int = 1) -> Iterator[None]:
    """Run `work` in threads until the block ends."""
    stop = threading.Event()
    running = [threading.Thread(target=work, args=(stop,), daemon=True) for _ in range(threads)]
    for thread in running:
        thread.start()
    time.sleep(1.0)  # the attack is under way
    try:
        yield
    finally:
        stop.set()
        for thread in running:
            thread.join()


def silent_connections(port: int, hosts: list[str], each: int) -> Callable[[threading.Event], None]:
    """Hold `each` silent connections from every host, opening again each one closed."""

    def hold(stop: threading.Event) -> None:
        chosen = selectors.DefaultSelector()

        def open_one(host: str) -> None:
            sock = socket.socket()
            sock.bind((host, 0))
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            chosen.register(sock, selectors.EVENT_READ, host)

        for host in hosts:
            for _ in range(each):
                open_one(host)
        while not stop.is_set():
            for key, _ in chosen.select(0.05):
                sock, host = key.fileobj, key.data
                assert isinstance(sock, socket.socket)
                chosen.unregister(sock)
                sock.close()  # the service answered (503) or closed it: open another
                open_one(host)
        for key in list(chosen.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    return hold


def wrong_tokens(url: str) -> Callable[[threading.Event], None]:
    """Closure webhooks with a wrong token, as fast as they are answered."""

    def flood(stop: threading.Event) -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                client.post(url + WEBHOOK, params={"token": "wrong-" * 4}, json=closed_webhook())

    return flood


def reloading(url: str) -> Callable[[threading.Event], None]:
    """The report page, reloaded again and again."""

    def reload(stop: threading.Event) -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                client.get(url + "/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    return reload


class Tickets:
    """Ticket ids for the next webhooks (each closed once)."""

    def __init__(self) -> None:
        self.next = FIRST_ISSUE

    def take(self, count: int) -> list[int]:
        """`count` fresh ticket ids."""
        taken = list(range(self.next, self.next + count))
        self.next += count
        return taken


def answered(service: Service, tickets: Tickets, count: int = 30) -> str:
    """Webhooks answered 200 of `count`, sent one every 0.1 s."""
    outcomes: Counter[str] = Counter()
    with httpx.Client(timeout=5) as client:
        for issue in tickets.take(count):
            try:
                sent = client.post(
                    service.url + WEBHOOK,
                    params={"token": WEBHOOK_TOKEN},
                    json=closed_webhook(issue),
                )
                outcomes[str(sent.status_code)] += 1
            except httpx.HTTPError as exc:
                outcomes[type(exc).__name__] += 1
            time.sleep(0.1)
    others = ", ".join(f"{what}: {n}" for what, n in outcomes.items() if what != "200")
    return f"{outcomes['200']} of {count}" + (f" ({others})" if others else "")


def webhook_p50(service: Service, tickets: Tickets, count: int = 60) -> str:
    """Webhook acknowledgement p50, one at a time."""
    times = []
    with httpx.Client(timeout=30) as client:
        for issue in tickets.take(count):
            began = time.perf_counter()
            client.post(
                service.url + WEBHOOK, params={"token": WEBHOOK_TOKEN}, json=closed_webhook(issue)
            )
            times.append(time.perf_counter() - began)
    return ms(percentile(times, 0.5))


def click_p50(service: Service, fakes: Fakes, tickets: Tickets, count: int) -> str:
    """Click → rating in Okdesk p50 over `count` fresh surveys, one click at a time."""
    issues = tickets.take(count)
    asyncio.run(fire_webhooks(service, webhook_bodies(issues), CONCURRENCY))
    times = []
    with httpx.Client(timeout=30) as client:
        tokens = _wait_invited(fakes, issues, client)
        for issue, token in tokens.items():
            latency = _click_latency(service, fakes, issue, token, client)
            if latency is not None:
                times.append(latency)
    return f"{ms(percentile(times, 0.5))} ({len(times)} of {count})" if times else "none"


@contextmanager
def service_and_fakes(
    tmp: Path, database_url: str, **extra: str
) -> Iterator[tuple[Service, Fakes]]:
    """The fakes, holding a thousand tickets, and the service on them with its bot registered."""
    with fakes_process() as fakes:
        fakes.seed_tickets(list(range(FIRST_ISSUE, FIRST_ISSUE + 1000)))
        env = service_env(fakes, database_url, free_port(), **extra)
        register_bot(env, tmp)
        service = Service(env, tmp / "service.log")
        service.start()
        try:
            yield service, fakes
        finally:
            service.stop()


def run(tmp: Path, surveys: int, clicks: int) -> list[tuple[str, str]]:
    """Start the service on a seeded SQLite file, attack it, and the figures as rows."""
    url = f"sqlite:///{tmp / 'rating.db'}"
    report_page.seed(url, surveys)
    extra = {"HTTP_MAX_CONNECTIONS": str(MAX_CONNECTIONS), "ADMIN_TOKEN": ADMIN_TOKEN}
    with service_and_fakes(tmp, url, **extra) as (service, fakes):
        return measure(service, fakes, Tickets(), clicks)


def measure(service: Service, fakes: Fakes, tickets: Tickets, clicks: int) -> list[tuple[str, str]]:
    """Each figure beside its baseline, in this order, on one service."""
    port = int(service.env["PORT"])
    rows = [("1. webhooks answered, no attack", answered(service, tickets))]
    with attacking(silent_connections(port, ["127.0.0.2"], MAX_CONNECTIONS)):
        rows.append(("   200 silent connections from one address", answered(service, tickets)))
    many = [f"127.0.1.{n}" for n in range(1, 11)]
    with attacking(silent_connections(port, many, MAX_CONNECTIONS)):
        rows.append(("   200 silent from each of 10 addresses", answered(service, tickets)))
    rows.append(("2. click → Okdesk p50, no flood", click_p50(service, fakes, tickets, clicks)))
    with attacking(wrong_tokens(service.url), threads=4):
        rows.append(("   under a flood of 401s", click_p50(service, fakes, tickets, clicks)))
    rows.append(("3. webhook p50, report page idle", webhook_p50(service, tickets)))
    with attacking(reloading(service.url)):
        rows.append(("   while /admin is reloaded", webhook_p50(service, tickets)))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bench.attacks", description=__doc__)
    parser.add_argument("--surveys", type=int, default=20_000)
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-attacks-") as directory:
        rows = run(Path(directory), args.surveys, args.clicks)
    table("Attacks that need no secret, each beside its baseline (SQLite)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
