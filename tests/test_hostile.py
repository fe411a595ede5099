"""Hostile input: whatever arrives, the service answers without a 5xx, keeps bodies bounded, and
refuses forged senders without storing anything or calling anyone (P1, P2, P11, P12).

The property tests drive the in-process app from a synchronous hypothesis test: the app runs
once per test in an anyio blocking portal (its own thread and event loop), and every example
is one request sent through that portal.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import schemathesis
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Err
from sqlalchemy.engine import Engine

from bridge.okdesk import OkdeskWebhook
from bridge.settings import Settings
from storage.db import transaction
from storage.queries import get_status
from storage.tables import SurveyState
from tests.harness.app import running_app
from tests.harness.constants import CLIENT_ID, EVENTS_TOKEN, ISSUE_ID, WEBHOOK_TOKEN
from tests.harness.databases import jobs, surveys
from tests.harness.payloads import click_body, closed_webhook, event_body, fixture_bytes, reply_body
from tests.harness.processes import Service, service_on_fakes
from tests.harness.senders import EVENTS, FORM_TYPE, JSON_TYPE, WEBHOOK, Senders
from tests.harness.vendors import Vendors, make_settings
from tests.harness.waiting import eventually

WEBHOOK_STATUSES = {200, 400, 401, 413, 415}
EVENTS_STATUSES = {200, 400, 403, 413, 415}
INT64 = range(-(2**63), 2**63)
MIB = 1024 * 1024
# The portal installation of the fixture events (auth[member_id]).
MEMBER_ID = "bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"
FIXTURE_EVENTS = (
    "ONIMCOMMANDADD_keyboard_click",
    "ONIMBOTMESSAGEADD_text_reply",
    "ONIMBOTJOINCHAT_private",
    "ONIMBOTDELETE",
)
FIXTURE_KEYS = sorted(
    {
        key
        for name in FIXTURE_EVENTS
        for key, _ in parse_qsl(fixture_bytes(f"bitrix24/{name}.form").decode())
    }
)

# The parser is the same whatever the database, so the property tests run on SQLite only (twice
# the time buys nothing there); what the databases store differently (column limits, NUL
# characters) is covered by the explicit tests further down, on both backends.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# --- the app in a portal ----------------------------------------------------------------------


@contextmanager
def app_in_portal(settings_: Settings, fakes: Vendors) -> Iterator[Senders[httpx.Response]]:
    """Run the app (lifespan included) in a thread of its own until the block ends; what is
    sent waits for the app's answer."""
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(running_app(settings_, fakes)) as app,
    ):

        def post(path: str, content: bytes | None = None, **request: Any) -> httpx.Response:
            return portal.call(partial(app.client.post, path, content=content, **request))

        yield Senders(post)


def _no_side_effects(engine: Engine, fakes: Vendors) -> None:
    assert surveys(engine) == []
    assert jobs(engine) == []
    assert fakes.transport.unexpected == []
    assert fakes.bitrix.calls == []
    assert fakes.okdesk.requests == []


# --- strategies -------------------------------------------------------------------------------

WEBHOOK_KEYS = st.sampled_from(
    ["event", "event_type", "new_status", "code", "issue", "id", "title", "client", "contact"]
)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(WEBHOOK_KEYS | st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_DELETE = object()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(payload: Any, path: tuple[Any, ...], new: Any) -> None:
    node = payload
    for part in path[:-1]:
        in_dict = isinstance(node, dict) and part in node
        if in_dict or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        else:
            return  # an earlier mutation replaced this branch
    last = path[-1]
    if isinstance(node, dict) and new is _DELETE:
        node.pop(last, None)
    elif isinstance(node, dict):
        node[last] = new
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = None if new is _DELETE else new


@st.composite
def mutated_webhooks(draw: st.DrawFn) -> Any:
    """The real closure webhook with a few values replaced by random JSON, or removed."""
    payload = closed_webhook(draw(st.integers(1, 10**6)))
    paths = _paths(payload)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        _mutate(payload, path, draw(st.just(_DELETE) | JSON_VALUES))
    return payload


def _overflows_storage(payload: Any) -> bool:
    """A status change whose ticket or contact id no 64-bit column holds (a known 5xx)."""
    try:
        webhook = OkdeskWebhook.model_validate(payload)
    except ValidationError:
        return False
    ids = (webhook.issue.id, webhook.contact_id)
    return any(value is not None and value not in INT64 for value in ids)


PHP_KEYS = st.from_regex(r"\A[A-Za-z_]{1,8}(\[[A-Za-z0-9_]{0,6}\]){0,8}\Z") | st.text(max_size=20)
FIELD_KEYS = st.sampled_from(FIXTURE_KEYS) | PHP_KEYS
FIELD_VALUES = st.text(max_size=40) | st.sampled_from(["", "0", "27", "Y", "P", "rate", "s7Kq2m:4"])


@st.composite
def hostile_events(draw: st.DrawFn) -> bytes:
    """Event bodies: fixture events with random fields, clicks, replies, random forms, bytes."""
    kind = draw(st.sampled_from(["fixture", "click", "reply", "form", "bytes"]))
    if kind == "fixture":
        fields = draw(st.dictionaries(FIELD_KEYS, FIELD_VALUES, max_size=6))
        body = event_body(draw(st.sampled_from(FIXTURE_EVENTS)), **fields)
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        rename = draw(st.booleans())
        if pairs and rename:
            # Rename one field: the same value under a random (often malformed) key.
            index = draw(st.integers(0, len(pairs) - 1))
            pairs[index] = (draw(PHP_KEYS), pairs[index][1])
        return urlencode(pairs).encode()
    if kind == "click":
        params = draw(st.text(max_size=40) | st.from_regex(r"\A[\w-]{0,20}:[0-9]{1,2}\Z"))
        return click_body(params, user_id=draw(st.integers(0, 10**20)))
    if kind == "reply":
        fields = draw(st.dictionaries(FIELD_KEYS, FIELD_VALUES, max_size=3))
        return reply_body(draw(st.text(max_size=60)), draw(st.integers(0, 10**20)), **fields)
    if kind == "form":
        pairs = draw(st.lists(st.tuples(FIELD_KEYS, FIELD_VALUES), max_size=12))
        return urlencode(pairs).encode()
    return draw(st.binary(max_size=600))


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# --- 1. property tests, in process ------------------------------------------------------------


@sqlite_only
def test_any_json_value_gets_a_4xx_or_200_never_5xx(
    database_url: str, vendors: Vendors, anyio_backend: str
) -> None:
    with app_in_portal(make_settings(database_url, worker_enabled=False), vendors) as app:
        seen: Counter[int] = Counter()

        @PROPERTY
        @given(value=JSON_VALUES)
        def check(value: Any) -> None:
            assume(not _overflows_storage(value))
            response = app.webhook(json.dumps(value).encode())
            # Of WEBHOOK_STATUSES, the right token and a small JSON body leave 200 and 400.
            assert response.status_code in WEBHOOK_STATUSES & {200, 400}, response.text
            seen[response.status_code] += 1

        check()
    assert seen.total() >= 150 and 400 in seen, seen


@sqlite_only
def test_mutated_webhooks_get_a_4xx_or_200_never_5xx(
    database_url: str, vendors: Vendors, anyio_backend: str
) -> None:
    with app_in_portal(make_settings(database_url, worker_enabled=False), vendors) as app:
        seen: Counter[str] = Counter()

        @PROPERTY
        @given(payload=mutated_webhooks())
        def check(payload: Any) -> None:
            # Ids no 64-bit column holds: test_values_the_database_cannot_hold_* below.
            assume(not _overflows_storage(payload))
            response = app.webhook(json.dumps(payload).encode())
            assert response.status_code in WEBHOOK_STATUSES & {200, 400}, response.text
            seen[response.json().get("result", str(response.status_code))] += 1

        check()
    # Deep enough: some mutated closures still open a survey, others are refused or ignored.
    assert seen.total() >= 150 and {"accepted", "400"} <= set(seen), seen


@sqlite_only
def test_hostile_event_bodies_get_a_4xx_or_200_never_5xx(
    database_url: str, vendors: Vendors, anyio_backend: str
) -> None:
    with app_in_portal(make_settings(database_url, worker_enabled=False), vendors) as app:
        seen: Counter[int] = Counter()

        @settings(PROPERTY, max_examples=300)
        @given(body=hostile_events())
        def check(body: bytes) -> None:
            response = app.event(body)
            assert response.status_code in EVENTS_STATUSES, response.text
            assert response.status_code != 413 or len(body) > 64 * 1024
            seen[response.status_code] += 1

        check()
    assert seen.total() >= 250 and {200, 400, 403} <= set(seen), seen
    assert vendors.transport.unexpected == []


@sqlite_only
def test_any_wrong_token_is_refused_and_nothing_happens(
    database_url: str, engine: Engine, vendors: Vendors, anyio_backend: str
) -> None:
    settings_ = make_settings(database_url, worker_enabled=False)
    with app_in_portal(settings_, vendors) as app:
        webhook = json.dumps(closed_webhook()).encode()
        click = click_body("s7Kq2m:4")

        @settings(PROPERTY, max_examples=200)
        @given(token=st.text(max_size=40), where=st.sampled_from(["query", "header", "both"]))
        def check(token: str, where: str) -> None:
            assume(token not in (WEBHOOK_TOKEN, EVENTS_TOKEN))
            params = {"token": token} if where != "header" else None
            # Header values travel as bytes: UTF-8 here, read back by the app as Latin-1.
            headers = {b"content-type": b"application/json", b"x-webhook-token": token.encode()}
            if where == "query":
                del headers[b"x-webhook-token"]
            assert app.post(WEBHOOK, webhook, params=params, headers=headers).status_code == 401
            query = {"token": token, "CLIENT_ID": CLIENT_ID}
            assert app.post(EVENTS, click, params=query, headers=FORM_TYPE).status_code == 403

        check()
    _no_side_effects(engine, vendors)


# --- 4. forged senders, in process (both databases) -------------------------------------------


def _without(body: bytes, name: str) -> bytes:
    pairs = parse_qsl(body.decode(), keep_blank_values=True)
    return urlencode([(key, value) for key, value in pairs if key != name]).encode()


def _forged_events() -> dict[str, tuple[bytes, str | None]]:
    click = click_body("s7Kq2m:4")
    foreign = click.replace(b"acme.bitrix24.ru", b"evil.example")
    metadata = re.sub(
        rb"auth%5Bclient_endpoint%5D=[^&]*",
        b"auth%5Bclient_endpoint%5D=http%3A%2F%2F169.254.169.254%2F",
        foreign,
    )
    return {
        "no token": (click, None),
        "empty token": (click, ""),
        "forged token": (click, "forged-token-0000000000"),
        "token prefix": (click, EVENTS_TOKEN[:-1]),
        "token longer": (click, EVENTS_TOKEN + "0"),
        "the webhook's token": (click, WEBHOOK_TOKEN),
        "non-ascii token": (click, "токен"),
        "foreign domain": (foreign, EVENTS_TOKEN),
        "metadata endpoint, foreign domain": (metadata, EVENTS_TOKEN),
        "suffix domain": (
            click.replace(b"acme.bitrix24.ru", b"acme.bitrix24.ru.evil.example"),
            EVENTS_TOKEN,
        ),
        "wrong application token": (
            click.replace(b"application_token%5D=rating-bot-acme", b"application_token%5D=x"),
            EVENTS_TOKEN,
        ),
        "no application token": (_without(click, "auth[application_token]"), EVENTS_TOKEN),
        "non-ascii application token": (
            event_body("ONIMCOMMANDADD_keyboard_click", **{"auth[application_token]": "токен"}),
            EVENTS_TOKEN,
        ),
        "reply, foreign domain": (
            reply_body("5").replace(b"acme.bitrix24.ru", b"evil.example"),
            EVENTS_TOKEN,
        ),
    }


def _worker_ticked(engine: Engine) -> bool:
    with transaction(engine) as session:
        return get_status(session, "worker_heartbeat") is not None


@pytest.mark.anyio
async def test_forged_senders_are_refused_and_nothing_is_stored_or_called(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    payload = closed_webhook()
    statuses: dict[str, int] = {}
    async with running_app(make_settings(database_url), vendors) as app:
        for name, (body, token) in _forged_events().items():
            statuses[name] = (await app.event(body, token=token)).status_code
        for token in (None, "", "forged", WEBHOOK_TOKEN.upper(), EVENTS_TOKEN, WEBHOOK_TOKEN[1:]):
            statuses[f"webhook {token!r}"] = (await app.webhook(payload, token=token)).status_code
        in_header = await app.client.post(
            WEBHOOK, json=payload, headers={"X-Webhook-Token": "forged-token-0000000000"}
        )
        statuses["webhook header"] = in_header.status_code
        other_name = await app.client.post(
            WEBHOOK, params={"api_token": WEBHOOK_TOKEN}, json=payload
        )
        statuses["webhook api_token="] = other_name.status_code
        # Let the worker run a few ticks: it must find nothing to do.
        await eventually(lambda: _worker_ticked(engine))
        await asyncio.sleep(0.3)
    assert statuses == {name: 401 if name.startswith("webhook") else 403 for name in statuses}
    _no_side_effects(engine, vendors)


@pytest.mark.anyio
async def test_non_ascii_tokens_get_401_and_403_not_500(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings_ = make_settings(database_url, worker_enabled=False)
    async with running_app(settings_, vendors) as app:
        in_query = await app.webhook(closed_webhook(), token="токен")
        in_header = await app.client.post(
            WEBHOOK,
            json=closed_webhook(),
            headers={b"X-Webhook-Token": "токен-неверный".encode()},
        )
        raw_latin1 = await app.client.post(
            WEBHOOK, json=closed_webhook(), headers={b"X-Webhook-Token": b"\xff\xfe\x80"}
        )
        event = await app.event(click_body("s7Kq2m:4"), token="токен")
    assert [in_query.status_code, in_header.status_code, raw_latin1.status_code] == [401] * 3
    assert event.status_code == 403
    _no_side_effects(engine, vendors)


def _with_endpoints(body: bytes, url: str) -> bytes:
    pairs = parse_qsl(body.decode(), keep_blank_values=True)
    moved = [
        (key, url if key.endswith(("[client_endpoint]", "[server_endpoint]")) else value)
        for key, value in pairs
    ]
    return urlencode(moved).encode()


@pytest.mark.anyio
async def test_endpoints_named_in_a_valid_event_are_never_called(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: [s.state for s in surveys(engine)] == [SurveyState.AWAITING])
        (survey,) = surveys(engine)
        for url in ("http://169.254.169.254/", "https://evil.example/rest/"):
            click = _with_endpoints(click_body(f"{survey.token}:2"), url)
            assert b"169.254.169.254" in click or b"evil.example" in click
            assert (await app.event(click)).status_code == 200
        joined = _with_endpoints(event_body("ONIMBOTJOINCHAT_private"), "http://169.254.169.254/")
        assert (await app.event(joined)).status_code == 200
        await eventually(lambda: len(vendors.okdesk.rate_posts) == 1)
        await eventually(lambda: len(vendors.calls("imbot.message.update")) == 1)
        await eventually(lambda: all(j.state != "pending" for j in jobs(engine)))
    assert vendors.transport.unexpected == []
    assert [body["rate"] for _, body in vendors.okdesk.rate_posts] == ["bad"]


# --- 3. bounded and typed input, in process ---------------------------------------------------


@sqlite_only
@pytest.mark.anyio
async def test_wrong_content_types_get_415_and_bad_lengths_400(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    form = click_body("s7Kq2m:4")
    webhook = json.dumps(closed_webhook()).encode()
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        client = app.client
        token = {"token": WEBHOOK_TOKEN}
        refused = {
            "webhook text/plain": await client.post(
                WEBHOOK, params=token, content=webhook, headers={"content-type": "text/plain"}
            ),
            "webhook form": await client.post(
                WEBHOOK, params=token, content=form, headers=FORM_TYPE
            ),
            "webhook multipart": await client.post(
                WEBHOOK, params=token, files={"file": ("a.json", webhook, "application/json")}
            ),
            "webhook none": await client.post(WEBHOOK, params=token, content=webhook),
            "webhook json-ish": await client.post(
                WEBHOOK, params=token, content=webhook, headers={"content-type": "text/json"}
            ),
        }
        events = {"token": EVENTS_TOKEN}
        refused |= {
            "events text/plain": await client.post(
                EVENTS, params=events, content=form, headers={"content-type": "text/plain"}
            ),
            "events json": await client.post(EVENTS, params=events, json={"event": "X"}),
            "events multipart": await client.post(
                EVENTS, params=events, data={"event": "ONIMBOTDELETE"}, files={"f": b"x"}
            ),
            "events none": await client.post(EVENTS, params=events, content=form),
        }
        lengths = {}
        for value in ("abc", "-1", "1.5", "", "0x10", "1e3", "12 34"):
            response = await client.post(
                WEBHOOK,
                params=token,
                content=webhook,
                headers={**JSON_TYPE, "content-length": value},
            )
            lengths[value] = response.status_code
        charset = await client.post(
            WEBHOOK,
            params=token,
            content=webhook,
            headers={"content-type": "Application/JSON; charset=utf-8"},
        )
    assert {name: r.status_code for name, r in refused.items()} == dict.fromkeys(refused, 415)
    assert lengths == dict.fromkeys(lengths, 400)
    assert charset.status_code == 200
    assert len(surveys(engine)) == 1


@sqlite_only
@pytest.mark.anyio
async def test_deep_nesting_and_many_fields_get_400(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    deep_json = b'{"event": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    deep_form = b"event=ONIMBOTDELETE&data" + b"%5Ba%5D" * 8 + b"=1"
    many = urlencode([("event", "ONIMBOTDELETE"), *((f"f{i}", "x") for i in range(300))]).encode()
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        nested = await app.client.post(
            WEBHOOK, params={"token": WEBHOOK_TOKEN}, content=deep_json, headers=JSON_TYPE
        )
        assert len(deep_json) <= 64 * 1024
        deep = await app.event(deep_form)
        too_many = await app.event(many)
    assert [nested.status_code, deep.status_code, too_many.status_code] == [400, 400, 400]
    assert surveys(engine) == [] and jobs(engine) == []


# --- known bugs: inputs that still get a 5xx --------------------------------------------------


def _postgres(database_url: str) -> bool:
    return database_url.startswith("postgres")


def _issue_with(**changes: Any) -> dict[str, Any]:
    return closed_webhook(ISSUE_ID + 1, **changes)


def _with_contact(contact_id: object) -> dict[str, Any]:
    payload = closed_webhook(ISSUE_ID + 2)
    payload["issue"]["client"]["contact"]["id"] = contact_id
    return payload


def _with_engineer(first_name: str) -> dict[str, Any]:
    payload = closed_webhook(ISSUE_ID + 3)
    payload["issue"]["assignee"]["employee"]["first_name"] = first_name
    return payload


STORAGE_LIMITS: dict[str, dict[str, Any]] = {
    "issue id 2**63": closed_webhook(2**63),
    "issue id -(2**63)-1": closed_webhook(-(2**63) - 1),
    "issue id as a 20-digit string": _issue_with(id="9" * 20),
    "contact id 2**31": _with_contact(2**31),
    "contact id 2**63": _with_contact(2**63),
    "engineer name of 400 characters": _with_engineer("x" * 400),
    "NUL in the title": _issue_with(title="Касса\x00не печатает"),
    "NUL in the engineer's name": _with_engineer("Алексей\x00"),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(STORAGE_LIMITS))
async def test_values_the_database_cannot_hold_get_a_4xx_not_5xx(
    database_url: str, vendors: Vendors, case: str
) -> None:
    payload = STORAGE_LIMITS[case]
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        response = await app.webhook(payload)
    assert response.status_code in (200, 400), response.text


@pytest.mark.anyio
async def test_lone_surrogate_in_the_title_gets_a_4xx_not_5xx(
    database_url: str, vendors: Vendors
) -> None:
    body = json.dumps(closed_webhook(ISSUE_ID + 4, title="\ud800")).encode()
    assert b"\\ud800" in body
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        response = await app.client.post(
            WEBHOOK, params={"token": WEBHOOK_TOKEN}, content=body, headers=JSON_TYPE
        )
    assert response.status_code in (200, 400), response.text


@sqlite_only
@pytest.mark.anyio
async def test_a_number_of_5000_digits_gets_400_not_500(
    database_url: str, vendors: Vendors
) -> None:
    body = b'{"event": {"event_type": "new_ticket_status"}, "issue": {"id": ' + b"9" * 5000 + b"}}"
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        response = await app.client.post(
            WEBHOOK, params={"token": WEBHOOK_TOKEN}, content=body, headers=JSON_TYPE
        )
    assert response.status_code == 400, response.text


@sqlite_only
@pytest.mark.anyio
async def test_content_length_of_superscript_digits_gets_400_not_500(
    database_url: str, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        response = await app.client.post(
            WEBHOOK,
            params={"token": WEBHOOK_TOKEN},
            content=b"{}",
            headers={b"content-type": b"application/json", b"content-length": b"\xb2"},
        )
    assert response.status_code == 400


EVENT_NULS = {
    "NUL in the button's survey token": lambda token: click_body(f"{token}\x00:4"),
    "NUL in a typed reply": lambda token: reply_body("5\x00"),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(EVENT_NULS))
async def test_nul_characters_in_events_get_a_4xx_or_200_not_5xx(
    database_url: str,
    engine: Engine,
    vendors: Vendors,
    case: str,
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: [s.state for s in surveys(engine)] == [SurveyState.AWAITING])
        response = await app.event(EVENT_NULS[case](surveys(engine)[0].token))
    assert response.status_code in (200, 400), response.text


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
    return case.path == WEBHOOK and _overflows_storage(case.body)


EVENT_NAMES = st.sampled_from(["ONIMCOMMANDADD", "ONIMBOTMESSAGEADD", "ONIMBOTJOINCHAT", "X"])


def test_schemathesis_finds_no_server_error(service: Service) -> None:
    schema = schemathesis.openapi.from_url(service.url + "/openapi.json")
    portal = _portal_domain(service)

    def authentic(pair: tuple[Case[Any], str]) -> Case[Any]:
        # Past the URL token, the application token and the domain: the parser and handlers.
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

    def closure(pair: tuple[Case[Any], str]) -> Case[Any]:
        # A status change, so that the issue part is validated and stored.
        case, code = pair
        body: Any = case.body
        if isinstance(body, dict) and isinstance(body.get("event"), dict):
            event = {**body["event"], "event_type": "new_ticket_status"}
            case.body = {**body, "event": {**event, "new_status": {"code": code}}}
        return case

    checked: Counter[tuple[str, int]] = Counter()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        strategies = [operation.as_strategy()]
        if operation.path == WEBHOOK:
            token = {"token": WEBHOOK_TOKEN}
            strategies.append(operation.as_strategy(query=token))
            strategies.append(operation.as_strategy(GenerationMode.NEGATIVE, query=token))
            codes = st.sampled_from(["closed", "completed", "opened"])
            strategies.append(st.tuples(operation.as_strategy(query=token), codes).map(closure))
        elif operation.path == EVENTS:
            token = {"token": EVENTS_TOKEN}
            strategies.append(operation.as_strategy(query=token))
            with_auth = st.tuples(operation.as_strategy(query=token), EVENT_NAMES).map(authentic)
            strategies.append(with_auth)
        for strategy in strategies:

            @settings(
                max_examples=80,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
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


def test_wrong_types_lengths_and_tokens_over_http(service: Service) -> None:
    webhook = json.dumps(closed_webhook(ISSUE_ID + 10)).encode()
    click = click_body("s7Kq2m:4")
    with httpx.Client(base_url=service.url, timeout=10) as client:
        token, events = {"token": WEBHOOK_TOKEN}, {"token": EVENTS_TOKEN}
        statuses = {
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
            "webhook non-ascii query token": client.post(
                WEBHOOK, params={"token": "токен"}, content=webhook, headers=JSON_TYPE
            ),
            "webhook non-ascii header token": client.post(
                WEBHOOK,
                content=webhook,
                headers={
                    b"content-type": b"application/json",
                    b"x-webhook-token": "токен".encode(),
                },
            ),
            "events non-ascii token": client.post(
                EVENTS, params={"token": "токен"}, content=click, headers=FORM_TYPE
            ),
        }
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
