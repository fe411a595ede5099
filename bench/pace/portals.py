"""Several portals side by side: P portals × C closures, each portal with its own limit (burst
50, then 2 a second) and Okdesk at 150 ms, Bitrix24 at 200 ms, timed until every person is
invited, beside the time one portal's C closures take alone. Each is invited once: counted in
every fake portal's messages.

The first portal is the settings' one (`default`); the others are added and mapped to a client
company each with `python -m bridge.admin portal add` / `portal map`, as an operator does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.pace.figures import (
    BITRIX_LATENCY,
    OKDESK_LATENCY,
    cpu_seconds,
    invited,
    load_average,
    until,
)
from bench.report import Report, table
from bench.running.databases import fresh_database
from bench.running.service import (
    AS_DEPLOYED,
    CONCURRENCY,
    ISSUE_IN_TEXT,
    fire_webhooks,
    service_pid,
)
from harness.payloads import closed_webhook
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    process_env,
    register_bot,
    service_env,
)
from storage.db import create_db_engine

FIRST_TICKET = 700_001
FIRST_COMPANY = 7_000  # the client company mapped to the added portal N is FIRST_COMPANY + N
HOME = 2058  # the fixture's company: mapped to none, so the settings' portal asks


def _which(number: int) -> str:
    """The fake portal `number` as the fakes name it."""
    return "bitrix" if number == 0 else f"bitrix:{number}"


def _admin(env: dict[str, str], cwd: Path, *argv: str) -> None:
    """`python -m bridge.admin ARGV` with the service's settings, as the operator runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "bridge.admin", *argv],
        cwd=cwd,
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bridge.admin {argv[:2]} failed: {done.stdout}{done.stderr}")


def _tickets(number: int, closures: int) -> range:
    """The tickets of the portal `number`'s company."""
    return range(FIRST_TICKET + number * closures, FIRST_TICKET + (number + 1) * closures)


def _bodies(portals: int, closures: int) -> list[bytes]:
    """The closure webhooks, portal by portal interleaved, each ticket of its portal's company."""
    bodies = []
    for i in range(closures):
        for number in range(portals):
            payload: dict[str, Any] = closed_webhook(_tickets(number, closures)[i])
            company = HOME if number == 0 else FIRST_COMPANY + number
            payload["issue"]["client"]["company"]["id"] = company
            bodies.append(json.dumps(payload).encode())
    return bodies


def _asked(messages: dict[str, Any]) -> Counter[int]:
    """How many invitations (messages with rating buttons) each ticket got on one portal."""
    found: Counter[int] = Counter()
    for message in messages.values():
        match = ISSUE_IN_TEXT.search(str(message.get("MESSAGE", "")))
        if message.get("KEYBOARD") and match is not None:
            found[int(match.group(1))] += 1
    return found


def _start(fakes: Fakes, database_url: str, tmp: Path, portals: int, closures: int) -> Service:
    """Seed the tickets and each portal's user, set the latencies, add and map the portals,
    start the service."""
    fakes.seed_tickets(list(range(FIRST_TICKET, FIRST_TICKET + portals * closures)))
    fakes.control("okdesk", "latency", {"latency": OKDESK_LATENCY})
    key = base64.b64encode(os.urandom(32)).decode()
    env = service_env(fakes, database_url, free_port(), SECRETS_KEY=key, **AS_DEPLOYED)
    register_bot(env, tmp)
    for number in range(1, portals):
        fakes.seed_tickets([], portal=_which(number))
        webhook = fakes.portals[number]["bitrix_webhook"]
        _admin(env, tmp, "portal", "add", f"client{number}", webhook)
        _admin(env, tmp, "portal", "map", str(FIRST_COMPANY + number), f"client{number}")
    for number in range(portals):
        fakes.control(_which(number), "latency", {"latency": BITRIX_LATENCY})
    service = Service(env, tmp / f"portals-{portals}.log")
    service.start()
    return service


@dataclass
class Ran:
    """One run: seconds until all were invited (None: not within the bound), the service's
    CPU seconds meanwhile, and each portal's invitations by ticket."""

    took: float | None
    cpu: float
    asked: list[Counter[int]]


def _run(postgres_url: str | None, tmp: Path, portals: int, closures: int) -> Ran:
    """P portals × C closures fired at once, until all are invited."""
    name = f"portals{portals}"
    with (
        fresh_database(postgres_url, tmp, name) as database_url,
        fakes_process("--rate-limit", "--portals", str(portals)) as fakes,
    ):
        service = _start(fakes, database_url, tmp, portals, closures)
        engine = create_db_engine(database_url)
        total = portals * closures
        try:
            pid = service_pid(service)
            cpu = cpu_seconds(pid)
            fired = asyncio.run(fire_webhooks(service, _bodies(portals, closures), CONCURRENCY))
            took = until(lambda: invited(engine) >= total, fired.started)
            cpu = cpu_seconds(pid) - cpu
            time.sleep(1.0)  # a second invitation of anyone would have been sent by now
            asked = [_asked(fakes.state(_which(n))["messages"]) for n in range(portals)]
        finally:
            service.stop()
            engine.dispose()
    return Ran(took, cpu, asked)


def bench_portals(postgres_url: str | None, tmp: Path, closures: int, report: Report) -> None:
    """One portal's C closures alone, then 3 portals × C side by side."""
    portals = 3
    print(f"\n[portals] {portals} portals × {closures} closures, each portal 50 + 2/s")
    print(f"    alone: {load_average()}")
    one = _run(postgres_url, tmp, 1, closures)
    print(f"    side by side: {load_average()}")
    three = _run(postgres_url, tmp, portals, closures)
    alone, together = one.took, three.took
    once = all(
        set(asked) == set(_tickets(n, closures)) and set(asked.values()) == {1}
        for n, asked in enumerate(three.asked)
    )
    counts = ", ".join(str(sum(c.values())) for c in three.asked)
    once_shown = "yes" if once else "NO"
    cpu = f"{one.cpu / closures * 1000:.1f} / {three.cpu / (portals * closures) * 1000:.1f} ms"
    ratio = None if alone is None or together is None else together / alone
    shown = "not all within the bound" if ratio is None else f"{ratio:.2f}×"
    took = {k: "not all" if v is None else f"{v:.1f} s" for k, v in (("a", alone), ("t", together))}
    rows = [
        (f"one portal's {closures} alone: all invited", took["a"]),
        (f"{portals} × {closures} side by side: all invited", took["t"]),
        ("side by side / alone (goal: at most 1.5×)", shown),
        ("invitations per portal (each of its tickets once)", f"{counts} ({once_shown})"),
        ("service CPU per closure, alone / side by side", cpu),
    ]
    table(f"{portals} portals × {closures} closures, Okdesk 150 ms, Bitrix24 200 ms", rows)
    report.add(f"{portals} portals × {closures}: all invited", f"{took['t']} = {shown} alone")
    report.add(f"one portal's {closures} alone", took["a"])
    report.add("portals: CPU per closure, alone / side by side", cpu)
    report.put("portals_alone_s", None if alone is None else round(alone, 1))
    report.put("portals_together_s", None if together is None else round(together, 1))
    report.put("portals_ratio", None if ratio is None else round(ratio, 2))
    report.put("portals_invited_once", once)
    if not once:
        report.problems.append(f"invitations per portal were {counts}, not {closures} once each")
