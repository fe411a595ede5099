"""Slow and greedy clients cannot hold the service: the real service process, attacked.

- Request heads of 32 and 100 KB (path, query, header) from several clients at once do not
  hold up a real Okdesk webhook sent at the same moment (they once stalled the event loop for
  seconds each, in the log filter).
- A head or a body that trickles in is cut off after its timeout (408), while others are
  served; a client that goes away mid-body costs one log line.
- A request past the connection limit takes the place of a silent connection (issue 23,
  point 5; more in tests/web/test_connection_starvation.py), and idle ones are closed at the head
  timeout.

Wall-clock figures are printed (run with `-s`); the only time asserted is a generous bound
that a stall breaks.
"""

from __future__ import annotations

import itertools
import logging
import re
import select
import socket
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bridge.web.limits import install_limits
from bridge.web.server import LIMITS, Limits
from harness.constants import ISSUE_ID, WEBHOOK_TOKEN
from harness.payloads import closed_webhook
from harness.processes import Service, service_on_fakes
from harness.senders import WEBHOOK

STALL = 10.0  # seconds: no acknowledgement takes this long unless the service stalls
ISSUES = list(range(ISSUE_ID + 1, ISSUE_ID + 60))
RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")
_CLOSE = b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
HOSTILE = {
    "path of 32 KB": b"GET /" + b"a" * 32_000 + b" HTTP/1.1" + _CLOSE,
    "path of 100 KB": b"GET /" + b"a" * 100_000 + b" HTTP/1.1" + _CLOSE,
    "query of 100 KB": b"GET /healthz?q=" + b"a" * 100_000 + b" HTTP/1.1" + _CLOSE,
    "header of 100 KB": b"GET /healthz HTTP/1.1\r\nX-Filler: " + b"a" * 100_000 + _CLOSE,
}
_issues = itertools.count()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service as a process (SQLite file) against the fakes as a process."""
    with service_on_fakes(
        tmp_path_factory.mktemp("slow_clients"),
        ISSUES,
        HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        HTTP_MAX_CONNECTIONS_PER_CLIENT=str(MAX_CONNECTIONS + 1),  # all from 127.0.0.1
    ) as running:
        yield running
    log = running.log_path.read_text(errors="replace")
    stray = [line for line in log.splitlines() if not (RECORD.match(line) or line[:1].isspace())]
    assert stray == [], stray[:5]


# Fewer than the default (1,000), so that the test can reach the limit cheaply.
MAX_CONNECTIONS = 100


def _port(service: Service) -> int:
    return int(service.env["PORT"])


def _acknowledge(service: Service) -> float:
    """Send a real closure webhook; seconds until it is acknowledged."""
    started = time.monotonic()
    response = httpx.post(
        service.url + WEBHOOK,
        params={"token": WEBHOOK_TOKEN},
        json=closed_webhook(ISSUES[next(_issues)]),
        timeout=STALL,
    )
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def _figures(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"


def _read_all(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def _exchange(port: int, request: bytes) -> str:
    """Send one request on its own connection; the status answered (or what went wrong)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2 * STALL) as sock:
            sock.sendall(request)
            answer = _read_all(sock)
    except OSError as exc:
        return type(exc).__name__
    return answer.split(b" ", 2)[1].decode() if answer else "closed"


@contextmanager
def _hostile_traffic(port: int, clients_per_kind: int = 2) -> Iterator[Counter[str]]:
    """Clients sending the hostile heads over and over until the block ends."""
    answers: Counter[str] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def client(request: bytes, kind: str) -> None:
        while not stop.is_set():
            status = _exchange(port, request)
            with lock:
                answers[f"{kind}: {status}"] += 1

    threads = [
        threading.Thread(target=client, args=(request, kind), daemon=True)
        for kind, request in HOSTILE.items()
        for _ in range(clients_per_kind)
    ]
    for thread in threads:
        thread.start()
    try:
        yield answers
    finally:
        stop.set()
        for thread in threads:
            thread.join(3 * STALL)


@pytest.mark.slow
def test_hostile_request_heads_do_not_hold_up_a_webhook(service: Service) -> None:
    alone = [_acknowledge(service) for _ in range(5)]
    with _hostile_traffic(_port(service)) as answers:
        time.sleep(0.5)
        attacked = []
        for _ in range(8):
            attacked.append(_acknowledge(service))
            time.sleep(0.3)
    print(f"\nwebhook acknowledged alone: {_figures(alone)}")
    print(f"webhook acknowledged under {len(HOSTILE) * 2} hostile clients: {_figures(attacked)}")
    print(f"hostile requests answered: {dict(sorted(answers.items()))}")
    assert max(attacked) < STALL
    assert sum(answers.values()) >= len(HOSTILE) * 2
    statuses = {kind_status.split(": ")[1] for kind_status in answers}
    assert statuses <= {"400", "431", "closed", "ConnectionResetError", "BrokenPipeError"}, answers


def _trickle(port: int, at_once: bytes, trickled: bytes) -> tuple[float, bytes]:
    """Send `at_once`, then `trickled` a byte a second until the server answers or closes;
    seconds from connecting until the server closed, and what it answered."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=STALL) as sock:
        sock.sendall(at_once)
        for byte in trickled:
            if select.select([sock], [], [], 1.0)[0]:
                break
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
        answer = _read_all(sock)
    return time.monotonic() - started, answer


def _post_head(length: int) -> bytes:
    return (
        f"POST {WEBHOOK}?token={WEBHOOK_TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.slow
def test_trickling_heads_and_bodies_are_cut_off_while_others_are_served(
    service: Service,
) -> None:
    port = _port(service)
    head = _post_head(200)
    slow: dict[str, tuple[float, bytes]] = {}
    runs = {
        "head": (b"", head),
        "body": (head, b'{"event": {"event_type": "new_ticket_status"}, "issue": {"id": 1}}'),
    }

    def run(kind: str, at_once: bytes, trickled: bytes) -> None:
        slow[kind] = _trickle(port, at_once, trickled)

    threads = [threading.Thread(target=run, args=(kind, *run_)) for kind, run_ in runs.items()]
    gone_before = service.log_path.read_text(errors="replace").count("http.client_gone")
    for thread in threads:
        thread.start()
    with socket.create_connection(("127.0.0.1", port)) as aborted:
        aborted.sendall(_post_head(1000) + b'{"event": ')
    served = []
    while any(thread.is_alive() for thread in threads):
        served.append(_acknowledge(service))
        time.sleep(1.0)
    for thread in threads:
        thread.join()

    (head_took, head_answer), (body_took, body_answer) = slow["head"], slow["body"]
    print(f"\nhead at a byte a second: closed after {head_took:.1f} s: {head_answer[:40]!r}")
    print(f"body at a byte a second: closed after {body_took:.1f} s: {body_answer[-80:]!r}")
    print(f"{len(served)} webhooks meanwhile acknowledged: {_figures(served)}")
    assert head_answer.startswith(b"HTTP/1.1 408 ")
    assert LIMITS.head_timeout - 0.5 < head_took < LIMITS.head_timeout + STALL
    assert body_answer.startswith(b"HTTP/1.1 408 ")
    assert b"the request body did not arrive within" in body_answer
    assert LIMITS.body_timeout - 0.5 < body_took < LIMITS.body_timeout + STALL
    assert max(served) < STALL
    log = service.log_path.read_text(errors="replace")
    assert log.count("http.client_gone") == gone_before + 1


@pytest.mark.slow
def test_a_request_past_the_limit_takes_a_silent_ones_place_and_idle_ones_are_closed(
    service: Service,
) -> None:
    port = _port(service)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.5)
        started = time.monotonic()
        served = httpx.post(
            service.url + WEBHOOK,
            params={"token": WEBHOOK_TOKEN},
            json=closed_webhook(ISSUES[-1]),
            timeout=STALL,
        )
        served_after = time.monotonic() - started
        assert served.status_code == 200
        # Nobody closes the idle connections but the service, at the head timeout.
        for sock in idle:
            sock.settimeout(LIMITS.head_timeout + STALL)
            assert _read_all(sock) == b""
        closed_after = time.monotonic() - started
    finally:
        for sock in idle:
            sock.close()
    after = _acknowledge(service)
    print(f"\n{len(idle)} idle connections: the next request served in {served_after:.3f} s")
    print(f"idle connections closed by the service after {closed_after:.1f} s")
    print(f"then a webhook acknowledged in {after * 1000:.0f} ms")


# --- the middleware alone, in process ---------------------------------------------------------


async def _echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"{len(await request.body())} bytes")


async def _call(limits: Limits, messages: list[dict[str, Any]], headers: int = 0) -> list[Any]:
    """Run a request through the middleware; what it sent. After `messages`, receive waits."""
    app = Starlette(routes=[Route("/", _echo, methods=["POST"])])
    install_limits(app, limits)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"x-filler", b"a" * headers)],
    }
    pending = iter(messages)
    sent: list[Any] = []

    async def receive() -> Any:
        message = next(pending, None)
        if message is None:
            await anyio.sleep_forever()
        return message

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_the_middleware_answers_408_to_a_late_body_and_431_to_a_large_head() -> None:
    limits = Limits(body_timeout=0.2)
    part = {"type": "http.request", "body": b"{", "more_body": True}
    late = await _call(limits, [part])
    assert late[0]["status"] == 408 and (b"connection", b"close") in late[0]["headers"]
    assert b"did not arrive within 0.2 s" in late[1]["body"]
    whole = {"type": "http.request", "body": b"{}", "more_body": False}
    assert [m.get("status") for m in await _call(limits, [part, whole])] == [200, None]
    large = await _call(limits, [whole], headers=limits.max_head)
    assert large[0]["status"] == 431


@pytest.mark.anyio
async def test_an_aborted_upload_is_one_log_line(caplog: pytest.LogCaptureFixture) -> None:
    part = {"type": "http.request", "body": b"{", "more_body": True}
    with caplog.at_level(logging.INFO):
        sent = await _call(LIMITS, [part, {"type": "http.disconnect"}])
    assert sent == []
    assert [r.getMessage() for r in caplog.records] == ["http.client_gone path=/ received=1 bytes"]
