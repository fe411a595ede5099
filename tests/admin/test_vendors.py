"""`python -m bridge.admin check` and `send-test` against the fake Okdesk and Bitrix24."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bridge.survey.jobs import TEST_NOTE
from harness.app import running_app
from harness.constants import CLIENT_ID, EVENTS_TOKEN, OKDESK_TOKEN, USER_ID
from harness.payloads import click_body
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import SurveyState
from tests.admin.cli import Ran, admin
from tests.databases import surveys

pytestmark = pytest.mark.anyio
EMAIL = "i.petrov@romashka.example"
PUBLIC_HOST = "rating.acme.example"


def _public(status: int = 200) -> httpx.AsyncBaseTransport:
    async def healthz(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok", status)

    return httpx.ASGITransport(app=Starlette(routes=[Route("/healthz", healthz)]))


async def _admin(database_url: str, vendors: Vendors, *argv: str) -> Ran:
    # The command runs its own event loop, as it does from a shell.
    settings = make_settings(database_url)
    return await asyncio.to_thread(admin, settings, *argv, transport=vendors.transport)


def _no_secret(out: str) -> None:
    for secret in (OKDESK_TOKEN, EVENTS_TOKEN, CLIENT_ID, "hooktoken"):
        assert secret not in out


async def test_check_passes_on_a_good_setup(database_url: str, vendors: Vendors) -> None:
    vendors.transport.routes[PUBLIC_HOST] = _public()
    ran = await _admin(database_url, vendors, "check")
    assert ran.code == 0, ran.out
    lines = [line for line in ran.out.splitlines() if not line.startswith("info  ")]
    assert len(lines) == 7 and all(line.startswith("ok  ") for line in lines)
    assert "bitrix24 webhook owner: a portal administrator" in ran.out
    assert "bitrix24 events: BITRIX_MEMBER_ID not configured (not checked); no event" in ran.out
    assert "info  default rating: 5 (good in Okdesk, marked automatic) after 24 h" in ran.out
    assert "okdesk token: Okdesk accepts the token (4 ticket statuses)" in ran.out
    assert "bitrix24 scopes: the webhook has imbot, user" in ran.out
    assert "bitrix24 bot: bot 567" in ran.out and "command 'rate': command id 103" in ran.out
    assert len(vendors.bitrix.commands) == 1
    _no_secret(ran.out)


async def test_check_says_what_to_fix(database_url: str, vendors: Vendors) -> None:
    vendors.okdesk.api_token = "another-token"
    vendors.bitrix.scopes = ["im"]
    ran = await _admin(database_url, vendors, "check")
    assert ran.code == 1
    lines = dict(line.split(": ", 1) for line in ran.out.splitlines())
    assert lines["FAIL  okdesk token"].startswith("Okdesk refused the token: OKDESK_API_TOKEN")
    assert "the webhook lacks imbot, user" in lines["FAIL  bitrix24 scopes"]
    assert "insufficient_scope" in lines["FAIL  bitrix24 bot"]
    assert lines["FAIL  public url"].startswith("GET https://rating.acme.example/healthz got no")
    _no_secret(ran.out)


async def test_check_fails_with_a_hint_when_the_webhooks_owner_is_no_administrator(
    database_url: str, vendors: Vendors
) -> None:
    """bitrix24.md §13: ADMIN_MODE needs an administrator; otherwise extranet clients outside
    the owner's groups are silently "not in Bitrix24". `profile` over the webhook tells."""
    vendors.transport.routes[PUBLIC_HOST] = _public()
    vendors.bitrix.owner_is_admin = False
    ran = await _admin(database_url, vendors, "check")
    assert ran.code == 1
    lines = dict(line.split(": ", 1) for line in ran.out.splitlines())
    said = lines["FAIL  bitrix24 webhook owner"]
    assert "not a portal administrator" in said and "administrator or a system user" in said
    assert ("profile", {}) in vendors.bitrix.calls
    _no_secret(ran.out)


@pytest.mark.parametrize(
    ("admin", "shown"), [(None, "not checked yet"), (True, "a portal"), (False, "not a portal")]
)
async def test_readyz_shows_what_check_found_of_the_webhooks_owner(
    database_url: str, vendors: Vendors, admin: bool | None, shown: str
) -> None:
    vendors.transport.routes[PUBLIC_HOST] = _public()
    if admin is not None:
        vendors.bitrix.owner_is_admin = admin
        await _admin(database_url, vendors, "check")
    calls = len(vendors.bitrix.calls)
    async with running_app(make_settings(database_url), vendors) as app:
        ready = (await app.client.get("/readyz")).json()
    assert ready["bitrix_webhook_owner"].startswith(shown)
    assert ("not a portal" in ready["bitrix_webhook_owner"]) is (admin is False)
    assert ("profile", {}) not in vendors.bitrix.calls[calls:], "the probe asks nobody"


async def test_check_finds_a_missing_bot_and_a_sick_public_url(
    database_url: str, vendors: Vendors
) -> None:
    vendors.bitrix.bots.clear()
    vendors.bitrix.commands.clear()
    vendors.transport.routes[PUBLIC_HOST] = _public(503)
    ran = await _admin(database_url, vendors, "check")
    assert ran.code == 1
    assert (
        "FAIL  bitrix24 bot: no bot with code 'okdesk_rating': run python -m bot.register"
        in ran.out
    )
    assert "FAIL  command 'rate': no bot, so no command" in ran.out
    assert "answered HTTP 503, not 200" in ran.out and "ok    okdesk token" in ran.out
    assert vendors.bitrix.commands == {}
    _no_secret(ran.out)


async def test_send_test_to_an_unknown_address_sends_nothing(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    ran = await _admin(database_url, vendors, "send-test", "nobody@romashka.example")
    assert ran.code == 1
    assert ran.out == "no active Bitrix24 user has that e-mail address: no test invitation sent\n"
    assert surveys(engine) == []


async def test_send_test_is_invited_thanked_and_never_written_to_okdesk(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    ran = await _admin(database_url, vendors, "send-test", EMAIL.upper())
    assert ran.code == 0 and f"for Bitrix24 user {USER_ID}" in ran.out
    assert "  Проверка: это тестовое приглашение\n  Администратор" in ran.out
    assert "[" not in ran.out and EMAIL not in ran.out, "printed as a person sees it"
    _no_secret(ran.out)
    okdesk_reads = len(vendors.okdesk.requests)
    async with running_app(make_settings(database_url), vendors) as app:
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING)
        (message,) = vendors.calls("imbot.message.add")
        assert message["DIALOG_ID"] == str(USER_ID)
        assert message["MESSAGE"].startswith("[b]Проверка: это тестовое приглашение[/b]")
        survey = surveys(engine)[0]
        assert (await app.event(click_body(f"{survey.token}:5"))).status_code == 200
        await eventually(lambda: surveys(engine)[0].finished_at is not None)
        await eventually(lambda: len(vendors.calls("imbot.message.update")) == 1)
    (thanks,) = vendors.calls("imbot.message.update")
    assert thanks["MESSAGE"].startswith("Спасибо! Тестовая оценка 5 из 5 получена")
    done = surveys(engine)[0]
    assert done.is_test and done.issue_id == 0 and done.current_issue_id is None
    assert done.state == SurveyState.RATED and done.reason == TEST_NOTE
    assert done.okdesk_rate is None and done.rating_sent_at is not None
    assert vendors.okdesk.rate_posts == [] and len(vendors.okdesk.requests) == okdesk_reads


async def test_check_prints_what_the_portals_events_carry_without_token_values(
    database_url: str, vendors: Vendors
) -> None:
    """Issue 21.6 / 23.2: the operator learns the member_id to set from `check`."""
    vendors.transport.routes[PUBLIC_HOST] = _public()
    async with running_app(make_settings(database_url), vendors) as app:
        assert (await app.event(click_body("s7Kq2m:4", tokens=True))).status_code == 200
    ran = await _admin(database_url, vendors, "check")
    (line,) = [line for line in ran.out.splitlines() if "bitrix24 events" in line]
    assert "keys=access_token, application_token, client_endpoint, domain, " in line
    assert "member_id=bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61" in line
    assert "c3d4e5f6000018d6" not in ran.out
