"""imbot.v2 in webhook mode: Bitrix24's form bodies (every value a string) or JSON, checked as
strictly as v1's events, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from bot.texts.form import parse_form
from harness.app import Running, running_app
from harness.constants import EVENTS_TOKEN, USER_ID
from harness.payloads import closed_webhook
from harness.v2 import portal, v2_settings, v2_vendors
from harness.vendors import Vendors
from harness.waiting import eventually
from storage.tables import SurveyState
from tests.databases import surveys

pytestmark = pytest.mark.anyio
EVENTS = "/api/v1/bitrix/v2/events"
FORM = {"content-type": "application/x-www-form-urlencoded"}
MODE = {"bitrix_event_mode": "webhook", "public_url": "https://rating.acme.example/"}


async def _click(app: Running, engine: Engine, vendors: Vendors, button: int) -> bytes:
    await app.webhook(closed_webhook())
    await eventually(lambda: surveys(engine) and surveys(engine)[0].state == SurveyState.AWAITING)
    body = portal(vendors).press(surveys(engine)[0].message_id or 0, USER_ID, button)
    assert body is not None and portal(vendors).queue.pending() == 0
    return body


async def test_a_form_encoded_click_rates_the_ticket(database_url: str, engine: Engine) -> None:
    vendors = await v2_vendors(database_url, **MODE)
    async with running_app(v2_settings(database_url, **MODE), vendors) as app:
        body = await _click(app, engine, vendors, 4)
        answer = await app.client.post(
            EVENTS, params={"token": EVENTS_TOKEN}, content=body, headers=FORM
        )
        assert answer.status_code == 200
        await eventually(lambda: surveys(engine)[0].rating_sent_at is not None)
    assert [b["rate"] for _i, b in vendors.okdesk.rate_posts] == ["good"]


async def test_a_json_click_is_read_too(database_url: str, engine: Engine) -> None:
    vendors = await v2_vendors(database_url, **MODE)
    async with running_app(v2_settings(database_url, **MODE), vendors) as app:
        body = json.dumps(parse_form(await _click(app, engine, vendors, 0))).encode()
        answer = await app.client.post(
            EVENTS,
            params={"token": EVENTS_TOKEN},
            content=body,
            headers={"content-type": "application/json"},
        )
        assert answer.status_code == 200
        await eventually(lambda: surveys(engine)[0].score == 1)


@pytest.mark.parametrize(
    ("token", "old", "new"),
    [
        ("forged-token-000000000000", b"ts=", b"ts="),
        (EVENTS_TOKEN, b"application_token%5D=custom", b"application_token%5D=forged"),
        (EVENTS_TOKEN, b"acme.bitrix24.ru", b"evil.example"),
    ],
)
async def test_forged_events_are_refused(
    database_url: str, engine: Engine, token: str, old: bytes, new: bytes
) -> None:
    vendors = await v2_vendors(database_url, **MODE)
    async with running_app(v2_settings(database_url, **MODE), vendors) as app:
        body = (await _click(app, engine, vendors, 4)).replace(old, new)
        answer = await app.client.post(EVENTS, params={"token": token}, content=body, headers=FORM)
        assert answer.status_code == 403
    assert surveys(engine)[0].state == SurveyState.AWAITING


async def test_a_click_without_member_id_is_accepted_on_the_application_token(
    database_url: str, engine: Engine
) -> None:
    """The v2 events page of Bitrix24's docs (webhook payload) shows an `auth` of only domain
    and application_token (bitrix24.md §12): no 403 for the missing member_id, even when one
    is configured."""
    mode = {**MODE, "bitrix_member_id": "bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"}
    vendors = await v2_vendors(database_url, **mode)
    async with running_app(v2_settings(database_url, **mode), vendors) as app:
        body = await _click(app, engine, vendors, 4)
        pairs = [p for p in body.split(b"&") if not p.startswith(b"auth%5Bmember_id%5D=")]
        answer = await app.client.post(
            EVENTS, params={"token": EVENTS_TOKEN}, content=b"&".join(pairs), headers=FORM
        )
        assert answer.status_code == 200
        await eventually(lambda: surveys(engine)[0].score == 5)


@pytest.mark.parametrize(("switching", "status"), [(False, 404), (True, 403)])
async def test_the_v1_route_is_closed_in_v2_mode_unless_switching(
    database_url: str, switching: bool, status: int
) -> None:
    mode = {**MODE, "bitrix_switching_from_v1": switching}
    vendors = await v2_vendors(database_url, **mode)
    async with running_app(v2_settings(database_url, **mode), vendors) as app:
        answer = await app.client.post(
            "/api/v1/bitrix/events", params={"token": "wrong-token-000000"}, headers=FORM
        )
    assert answer.status_code == status
