"""The service and the fakes as processes for the benchmark: closing tickets in bulk and
watching the invitations arrive."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from bench.report import Report, percentile
from bench.running.wire import Answer, Connection
from bridge.config.settings import Settings
from harness.constants import WEBHOOK_TOKEN
from harness.payloads import closed_webhook
from harness.processes import (
    Fakes,
    Service,
    free_port,
    register_bot,
    service_env,
)

CONCURRENCY = 16
# The service runs as deployed: the tests' environment polls five times as often as the
# default (so that they wait less), and a benchmark of its CPU would measure that instead.
_POLL = Settings.model_fields["worker_poll_interval"].default
AS_DEPLOYED = {"WORKER_POLL_INTERVAL": f"{_POLL.total_seconds()}s"}
SLOW_LATENCY = "0.3"
INVITE_POLL = 0.2
WEBHOOK_ROUTE = "/api/v1/okdesk/webhook"
INVITE_BOUND = 600.0
DUE = 100
FIRST_ISSUE = 500_001
ISSUE_IN_TEXT = re.compile(r"№(\d+)")


# --- talking to the service and the fakes --------------------------------------------------


@dataclass
class Fired:
    """The outcome of a burst of webhooks."""

    latencies: list[float]
    statuses: Counter[int]
    results: Counter[str]
    started: float
    elapsed: float
    # The untimed first answers on each sender's new connection (`fire_webhooks(warm_up=True)`).
    cold: list[float] = field(default_factory=list)

    def p50_p99(self, report: Report, who: str) -> tuple[float, float]:
        """The median and 99th percentile latency; answers other than 200 are a problem."""
        not_ok = {code: count for code, count in self.statuses.items() if code != 200}
        if not_ok:
            report.problems.append(f"{who} answers other than 200: {not_ok}")
        return percentile(self.latencies, 0.50), percentile(self.latencies, 0.99)

    def record(self, answer: Answer) -> None:
        """Count one answer's status and result."""
        self.statuses[answer.status] += 1
        if answer.status == 200:
            self.results[str(json.loads(answer.body).get("result"))] += 1


def webhook_bodies(issue_ids: list[int]) -> list[bytes]:
    """Closure webhooks, encoded up front so that building them is not timed."""
    return [json.dumps(closed_webhook(issue_id)).encode() for issue_id in issue_ids]


async def fire_webhooks(
    service: Service,
    bodies: list[bytes],
    concurrency: int,
    started: asyncio.Event | None = None,
    *,
    warm_up: bool = False,
) -> Fired:
    """POST every body to the webhook with `concurrency` requests in flight, each sender on its
    own kept-alive connection (bench/running/wire.py: a client too cheap to be what is timed).

    With `warm_up`, each sender first posts one body untimed (kept in `Fired.cold`; at most
    half the bodies), and the clock starts once all are answered: the connections are open and
    a fresh process's first-request costs (FastAPI sets a route up on its first one) are paid.
    """
    fired = Fired([], Counter(), Counter(), 0.0, 0.0)
    pending = iter(bodies)
    connections = [Connection(service.url) for _ in range(concurrency)]
    if started is not None:
        started.set()

    async def send(connection: Connection, bodies: Iterable[bytes], times: list[float]) -> None:
        for body in bodies:
            start = time.perf_counter()
            answer = await post_webhook(connection, body)
            times.append(time.perf_counter() - start)
            fired.record(answer)

    try:
        if warm_up:
            firsts = list(islice(pending, min(concurrency, len(bodies) // 2)))
            pairs = zip(connections, firsts, strict=False)
            await asyncio.gather(*(send(c, [body], fired.cold) for c, body in pairs))
        fired.started = time.perf_counter()
        await asyncio.gather(*(send(c, pending, fired.latencies) for c in connections))
        fired.elapsed = time.perf_counter() - fired.started
    finally:
        for connection in connections:
            await connection.close()
    return fired


async def post_webhook(connection: Connection, body: bytes) -> Answer:
    """One closure webhook, as Okdesk sends it (the token in the query)."""
    return await connection.post(
        WEBHOOK_ROUTE, body, params={"token": WEBHOOK_TOKEN}, content_type="application/json"
    )


def invitations(messages: dict[str, Any]) -> dict[int, str]:
    """Issue id → survey token, for every bot message that still carries rating buttons."""
    found: dict[int, str] = {}
    for message in messages.values():
        keyboard = message.get("KEYBOARD")
        match = ISSUE_IN_TEXT.search(str(message.get("MESSAGE", "")))
        if not keyboard or match is None:
            continue
        params = str(keyboard["BUTTONS"][0]["COMMAND_PARAMS"])
        found[int(match.group(1))] = params.split(":")[0]
    return found


def start_service(fakes: Fakes, database_url: str, tmp: Path, name: str) -> Service:
    """Register the bot in the fake portal and start the service against the fakes."""
    env = service_env(fakes, database_url, free_port(), **AS_DEPLOYED)
    register_bot(env, tmp)
    service = Service(env, tmp / f"{name}.log")
    service.start()
    return service


def service_pid(service: Service) -> int:
    """The service's process id."""
    assert service.process is not None
    return service.process.pid
