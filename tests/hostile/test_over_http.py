"""The service as a process, over real HTTP: schemathesis finds no server error, oversized
bodies get 413 in bounded memory, and wrong types, lengths and tokens are refused."""

from __future__ import annotations

import json
import re
import socket
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err

from harness.constants import CLIENT_ID, EVENTS_TOKEN, ISSUE_ID, WEBHOOK_TOKEN
from harness.payloads import click_body, closed_webhook
from harness.processes import Service, service_on_fakes
from harness.senders import EVENTS, FORM_TYPE, JSON_TYPE, WEBHOOK
from tests.hostile.inputs import overflows_storage

MIB = 1024 * 1024
# The portal installation of the fixture events (auth[member_id]).
MEMBER_ID = "bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"


# --- 2 and 3. the real service process --------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service as a process (SQLite file) against the fakes as a process."""
    with service_on_fakes(
        tmp_path_factory.mktemp("hostile"),
        [ISSUE_ID],
        # The schema is off by default; schemathesis reads it.
        OPENAPI_ENABLED="true",
        # Schemathesis sends many closures from one address.
        WEBHOOK_SURVEYS_PER_MINUTE="100000",
    ) as running:
        yield running


def _portal_domain(service: Service) -> str:
    return urlsplit(service.env["BITRIX_WEBHOOK_URL"]).hostname or ""


def _known_5xx(case: Case[Any]) -> bool:
    """Bodies test_values_the_database_cannot_hold_* shows the service still fails on."""
    return case.path == WEBHOOK and overflows_storage(case.body)


EVENT_NAMES = st.sampled_from(["ONIMCOMMANDADD", "ONIMBOTMESSAGEADD", "ONIMBOTJOINCHAT", "X"])


def _authentic(portal: str, pair: tuple[Case[Any], str]) -> Case[Any]:
    """Past the URL token, the application token and the domain: the parser and handlers."""
    case, name = pair
    if isinstance(case.body, dict):
        case.body = {
            **case.body,
            "event": name,
            "auth[application_token]": CLIENT_ID,
            "auth[domain]": portal,
            "auth[member_id]": MEMBER_ID,
        }
    return case


def _closure(pair: tuple[Case[Any], str]) -> Case[Any]:
    """A status change, so that the issue part is validated and stored."""
    case, code = pair
    body: Any = case.body
    if isinstance(body, dict) and isinstance(body.get("event"), dict):
        event = {**body["event"], "event_type": "new_ticket_status"}
        case.body = {**body, "event": {**event, "new_status": {"code": code}}}
    return case


def _strategies(operation: Any, portal: str) -> list[st.SearchStrategy[Case[Any]]]:
    """Cases for one operation: as they come, with the right URL token, and past it."""
    strategies = [operation.as_strategy()]
    if operation.path == WEBHOOK:
        token = {"token": WEBHOOK_TOKEN}
        strategies.append(operation.as_strategy(query=token))
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE, query=token))
        codes = st.sampled_from(["closed", "completed", "opened"])
        strategies.append(st.tuples(operation.as_strategy(query=token), codes).map(_closure))
    elif operation.path == EVENTS:
        token = {"token": EVENTS_TOKEN}
        strategies.append(operation.as_strategy(query=token))
        with_auth = st.tuples(operation.as_strategy(query=token), EVENT_NAMES)
        strategies.append(with_auth.map(partial(_authentic, portal)))
    return strategies


def test_schemathesis_finds_no_server_error(service: Service) -> None:
    schema = schemathesis.openapi.from_url(service.url + "/openapi.json")
    portal = _portal_domain(service)
    checked: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        for strategy in _strategies(result.ok(), portal):

            @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def check(case: Case[Any]) -> None:
                assume(not _known_5xx(case))
                response = case.call(base_url=service.url, timeout=10)
                assert response.status_code < 500, (case.body, response.text)
                checked[case.path, response.status_code] += 1

            check()
    assert {(WEBHOOK, 200), (WEBHOOK, 400), (WEBHOOK, 401), (EVENTS, 200), (EVENTS, 403)} <= set(
        checked
    ), checked
    assert checked["/healthz", 200] > 0


def _rss_kib(service: Service) -> int:
    assert service.process is not None
    status = Path(f"/proc/{service.process.pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def _chunks() -> Iterator[bytes]:
    for _ in range(48):
        yield b"x" * (64 * 1024)


def test_oversized_bodies_get_413_in_bounded_memory(service: Service) -> None:
    # Past the larger of the two limits (Okdesk's 2 MiB).
    big = b"x" * (3 * MIB)
    targets = [
        (WEBHOOK, {"token": WEBHOOK_TOKEN}, JSON_TYPE),
        (EVENTS, {"token": EVENTS_TOKEN}, FORM_TYPE),
    ]
    with httpx.Client(base_url=service.url, timeout=30) as client:

        def round_of(times: int) -> list[int]:
            statuses = []
            for _ in range(times):
                for path, params, headers in targets:
                    plain = client.post(path, params=params, content=big, headers=headers)
                    chunked = client.post(path, params=params, content=_chunks(), headers=headers)
                    statuses += [plain.status_code, chunked.status_code]
            return statuses

        assert set(round_of(3)) == {413}  # warm up: first allocations, connection pool
        before = _rss_kib(service)
        assert set(round_of(30)) == {413}
        grown = _rss_kib(service) - before
    assert grown < 10 * 1024, f"RSS grew by {grown} KiB over 120 bodies of 3 MiB"


def _raw_status(service: Service, request: bytes) -> int:
    port = int(service.env["PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.recv(4096)
    return int(answer.split(b" ", 2)[1])


def _wrong_types(client: httpx.Client, webhook: bytes, click: bytes) -> dict[str, httpx.Response]:
    """A webhook and an event, each sent with content types their endpoints refuse."""
    token, events = {"token": WEBHOOK_TOKEN}, {"token": EVENTS_TOKEN}
    return {
        "webhook text/plain": client.post(
            WEBHOOK, params=token, content=webhook, headers={"content-type": "text/plain"}
        ),
        "webhook form": client.post(WEBHOOK, params=token, content=click, headers=FORM_TYPE),
        "webhook multipart": client.post(WEBHOOK, params=token, files={"f": webhook}),
        "events text/plain": client.post(
            EVENTS, params=events, content=click, headers={"content-type": "text/plain"}
        ),
        "events json": client.post(EVENTS, params=events, json={"event": "ONIMBOTDELETE"}),
        "events multipart": client.post(EVENTS, params=events, files={"f": click}),
    }


def _non_ascii_tokens(
    client: httpx.Client, webhook: bytes, click: bytes
) -> dict[str, httpx.Response]:
    """A webhook and an event whose token is not ASCII, in the query or in the header."""
    header = {b"content-type": b"application/json", b"x-webhook-token": "токен".encode()}
    return {
        "webhook non-ascii query token": client.post(
            WEBHOOK, params={"token": "токен"}, content=webhook, headers=JSON_TYPE
        ),
        "webhook non-ascii header token": client.post(WEBHOOK, content=webhook, headers=header),
        "events non-ascii token": client.post(
            EVENTS, params={"token": "токен"}, content=click, headers=FORM_TYPE
        ),
    }


def test_wrong_types_lengths_and_tokens_over_http(service: Service) -> None:
    webhook = json.dumps(closed_webhook(ISSUE_ID + 10)).encode()
    click = click_body("s7Kq2m:4")
    with httpx.Client(base_url=service.url, timeout=10) as client:
        statuses = _wrong_types(client, webhook, click) | _non_ascii_tokens(client, webhook, click)
    assert {name: r.status_code for name, r in statuses.items()} == {
        **dict.fromkeys(list(statuses)[:6], 415),
        "webhook non-ascii query token": 401,
        "webhook non-ascii header token": 401,
        "events non-ascii token": 403,
    }
    for length in (b"abc", b"-1", b"\xb2", b"1 2"):
        request = (
            b"POST " + WEBHOOK.encode() + b"?token=" + WEBHOOK_TOKEN.encode() + b" HTTP/1.1\r\n"
            b"Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + length + b"\r\n\r\n{}"
        )
        assert _raw_status(service, request) == 400, length
