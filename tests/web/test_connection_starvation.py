"""Silent connections cannot starve the webhooks (issue 23, point 5): the real service process,
attacked from other loopback addresses (127.0.0.2, ...: Linux routes all of 127/8 to lo).

- One client address holds at most HTTP_MAX_CONNECTIONS_PER_CLIENT connections: the next is
  refused at once with 503, and a webhook from elsewhere is answered.
- Many addresses together filling HTTP_MAX_CONNECTIONS with silent connections: a webhook
  still finds room, the longest-silent connection gives its place.
Before the fix both webhooks got 503 (uvicorn counted every silent connection to the limit).
Figures under attack beside a baseline: `python -m bench.starvation`.
"""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from bridge.web.connections import ConnectionBook, Trusted
from harness.constants import ISSUE_ID, WEBHOOK_TOKEN
from harness.payloads import closed_webhook
from harness.processes import Service, service_on_fakes
from harness.senders import WEBHOOK

STALL = 10.0  # seconds: a bound only a stall passes, never a measured figure
MAX_CONNECTIONS, PER_CLIENT = 60, 20
ISSUES = list(range(ISSUE_ID + 100, ISSUE_ID + 110))
_issues = itertools.count()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service as a process with small limits, against the fakes as a process."""
    with service_on_fakes(
        tmp_path_factory.mktemp("starvation"),
        ISSUES,
        HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        HTTP_MAX_CONNECTIONS_PER_CLIENT=str(PER_CLIENT),
    ) as running:
        yield running


@contextmanager
def silent(service: Service, clients: list[str], each: int) -> Iterator[list[socket.socket]]:
    """`each` connections from every client address, none of which says anything."""
    port = int(service.env["PORT"])
    opened = [
        socket.create_connection(("127.0.0.1", port), timeout=STALL, source_address=(host, 0))
        for host in clients
        for _ in range(each)
    ]
    try:
        time.sleep(0.5)  # the service has taken them all in
        yield opened
    finally:
        for sock in opened:
            sock.close()


def _webhook(service: Service) -> int:
    answer = httpx.post(
        service.url + WEBHOOK,
        params={"token": WEBHOOK_TOKEN},
        json=closed_webhook(ISSUES[next(_issues)]),
        timeout=STALL,
    )
    return answer.status_code


def _answered_at_once(sock: socket.socket) -> bytes:
    sock.settimeout(STALL / 2)  # the head timeout (10 s) would close it silently
    try:
        return sock.recv(1024)
    except TimeoutError:
        return b""


@pytest.mark.slow
def test_one_client_cannot_hold_more_than_its_share_of_connections(service: Service) -> None:
    with silent(service, ["127.0.0.2"], MAX_CONNECTIONS) as held:
        assert _webhook(service) == 200
        over = [_answered_at_once(sock) for sock in held[PER_CLIENT : PER_CLIENT + 3]]
    assert all(answer.startswith(b"HTTP/1.1 503") for answer in over), over
    assert b"too many connections from this address" in over[0]


@pytest.mark.slow
def test_silent_connections_from_many_clients_give_their_place_to_a_webhook(
    service: Service,
) -> None:
    clients = [f"127.0.0.{n}" for n in range(10, 10 + MAX_CONNECTIONS // PER_CLIENT + 1)]
    with silent(service, clients, PER_CLIENT):  # more than the server holds
        assert [_webhook(service) for _ in range(3)] == [200, 200, 200]


# --- the decision alone (bridge.web.connections) -------------------------------------------------


@dataclass
class _Held:
    host: str | None
    silent_since: float | None


def _book(holders: list[_Held]) -> ConnectionBook:
    book = ConnectionBook(per_client=100, proxies=Trusted(["10.0.0.0/8"]))
    for holder in holders:
        assert book.admit(holder.host)
    return book


def test_a_newcomer_takes_the_place_of_the_heaviest_addresses_longest_silent() -> None:
    a_old, a_new, b_busy = _Held("a", 1.0), _Held("a", 2.0), _Held("b", None)
    b_silent, newcomer = _Held("b", 0.5), _Held("webhook", None)
    held = [a_old, a_new, _Held("a", None), b_busy, b_silent, newcomer]
    assert _book(held).place_for(newcomer, held) is a_old


def test_a_heavy_address_pushes_out_only_its_own_and_none_busy() -> None:
    held = [_Held("a", 1.0), _Held("a", 2.0), _Held("b", 1.5), _Held("b", 0.1), _Held("b", None)]
    assert _book(held).place_for(held[-1], held) is held[3]  # b's own, not a's
    busy_b = [_Held("a", 1.0), _Held("a", 2.0), _Held("b", None), _Held("b", None)]
    assert _book(busy_b).place_for(busy_b[-1], busy_b) is None
    no_one_silent = [_Held("a", None), _Held("a", None), _Held("c", None)]
    assert _book(no_one_silent).place_for(no_one_silent[-1], no_one_silent) is None


def test_an_address_past_its_share_is_refused_but_a_trusted_proxy_is_not() -> None:
    book = ConnectionBook(per_client=2, proxies=Trusted(["10.0.0.0/8"]))
    assert [book.admit("198.51.100.1") for _ in range(3)] == [True, True, False]
    assert all(book.admit("10.1.2.3") for _ in range(5))
    book.leave("198.51.100.1")
    assert book.admit("198.51.100.1")
