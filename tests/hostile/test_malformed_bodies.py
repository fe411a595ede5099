"""Wrong content types, bad lengths, deep nesting and values the database cannot hold get a
4xx, not a 5xx (P1, P11)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.engine import Engine

from harness.app import running_app
from harness.constants import EVENTS_TOKEN, ISSUE_ID, WEBHOOK_TOKEN
from harness.payloads import click_body, closed_webhook, reply_body
from harness.senders import EVENTS, FORM_TYPE, JSON_TYPE, WEBHOOK
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import SurveyState
from tests.databases import jobs, surveys
from tests.hostile.inputs import sqlite_only

# --- 3. bounded and typed input, in process ---------------------------------------------------


async def _wrong_webhook_types(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
    """The closure webhook sent with every content type but JSON."""
    token, form = {"token": WEBHOOK_TOKEN}, click_body("s7Kq2m:4")
    webhook = json.dumps(closed_webhook()).encode()
    return {
        "webhook text/plain": await client.post(
            WEBHOOK, params=token, content=webhook, headers={"content-type": "text/plain"}
        ),
        "webhook form": await client.post(WEBHOOK, params=token, content=form, headers=FORM_TYPE),
        "webhook multipart": await client.post(
            WEBHOOK, params=token, files={"file": ("a.json", webhook, "application/json")}
        ),
        "webhook none": await client.post(WEBHOOK, params=token, content=webhook),
        "webhook json-ish": await client.post(
            WEBHOOK, params=token, content=webhook, headers={"content-type": "text/json"}
        ),
    }


async def _wrong_event_types(client: httpx.AsyncClient) -> dict[str, httpx.Response]:
    """A click event sent with every content type but a form."""
    events, form = {"token": EVENTS_TOKEN}, click_body("s7Kq2m:4")
    return {
        "events text/plain": await client.post(
            EVENTS, params=events, content=form, headers={"content-type": "text/plain"}
        ),
        "events json": await client.post(EVENTS, params=events, json={"event": "X"}),
        "events multipart": await client.post(
            EVENTS, params=events, data={"event": "ONIMBOTDELETE"}, files={"f": b"x"}
        ),
        "events none": await client.post(EVENTS, params=events, content=form),
    }


@sqlite_only
@pytest.mark.anyio
async def test_wrong_content_types_get_415_and_bad_lengths_400(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    webhook = json.dumps(closed_webhook()).encode()
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        refused = await _wrong_webhook_types(app.client) | await _wrong_event_types(app.client)
        token, lengths = {"token": WEBHOOK_TOKEN}, {}
        for value in ("abc", "-1", "1.5", "", "0x10", "1e3", "12 34"):
            headers = {**JSON_TYPE, "content-length": value}
            response = await app.client.post(
                WEBHOOK, params=token, content=webhook, headers=headers
            )
            lengths[value] = response.status_code
        charset = await app.client.post(
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
