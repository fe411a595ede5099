"""Forged senders and wrong tokens are refused, and nothing is stored or called (P2, P12)."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from harness.app import running_app
from harness.constants import CLIENT_ID, EVENTS_TOKEN, WEBHOOK_TOKEN
from harness.payloads import click_body, closed_webhook, event_body, reply_body
from harness.senders import EVENTS, FORM_TYPE, WEBHOOK
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.db import transaction
from storage.status import StatusKey, get_status
from storage.tables import SurveyState
from tests.databases import jobs, surveys
from tests.hostile.inputs import PROPERTY, app_in_portal, sqlite_only


def _no_side_effects(engine: Engine, fakes: Vendors) -> None:
    assert surveys(engine) == []
    assert jobs(engine) == []
    assert fakes.transport.unexpected == []
    assert fakes.bitrix.calls == []
    assert fakes.okdesk.requests == []


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
        return get_status(session, key=StatusKey.WORKER_HEARTBEAT) is not None


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
            # The other reading (events with the person's OAuth block) names endpoints.
            click = _with_endpoints(click_body(f"{survey.token}:2", tokens=True), url)
            assert b"169.254.169.254" in click or b"evil.example" in click
            assert (await app.event(click)).status_code == 200
        joined = _with_endpoints(event_body("ONIMBOTJOINCHAT_private"), "http://169.254.169.254/")
        assert (await app.event(joined)).status_code == 200
        await eventually(lambda: len(vendors.okdesk.rate_posts) == 1)
        await eventually(lambda: len(vendors.calls("imbot.message.update")) == 1)
        await eventually(lambda: all(j.state != "pending" for j in jobs(engine)))
    assert vendors.transport.unexpected == []
    assert [body["rate"] for _, body in vendors.okdesk.rate_posts] == ["bad"]
