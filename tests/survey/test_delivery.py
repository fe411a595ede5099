"""Finding the person, surviving Bitrix24 failures and restarts, cancelling on reopen."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.client import BitrixClient
from bot.register import register, unregister
from harness.app import running_app
from harness.constants import BITRIX_BASE, CLIENT_ID, WEBHOOK_PATH
from harness.payloads import closed_webhook, fixture_json, rest_issue
from harness.vendors import Vendors, make_settings, seeded_vendors
from harness.waiting import eventually
from storage.tables import JobState, SurveyState
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio


def _state(engine: Engine) -> SurveyState | None:
    found = surveys(engine)
    return SurveyState(found[-1].state) if found else None


async def _close_and_wait(
    app_settings: object, vendors: Vendors, engine: Engine, state: SurveyState
) -> None:
    async with running_app(app_settings, vendors) as app:  # type: ignore[arg-type]
        assert (await app.webhook(closed_webhook())).status_code == 200
        await eventually(lambda: _state(engine) == state)


async def test_ticket_without_contact_is_undeliverable(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    payload = fixture_json("okdesk/webhook_issue_closed_no_contact.json")
    # Okdesk shows the ticket without a contact too (the worker reads it before inviting).
    vendors.okdesk.issues[payload["issue"]["id"]] = rest_issue(payload["issue"]["id"])
    vendors.okdesk.issues[payload["issue"]["id"]]["contact"] = None
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(payload)
        await eventually(lambda: _state(engine) == SurveyState.UNDELIVERABLE)
    assert surveys(engine)[0].reason == "Okdesk shows no contact on the ticket"
    assert vendors.calls("imbot.message.add") == []


async def test_contact_without_email_is_undeliverable(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.okdesk.contacts[11771]["email"] = None
    await _close_and_wait(make_settings(database_url), vendors, engine, SurveyState.UNDELIVERABLE)
    assert "no e-mail" in (surveys(engine)[0].reason or "")


async def test_no_bitrix_user_is_undeliverable(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.users = []
    await _close_and_wait(make_settings(database_url), vendors, engine, SurveyState.UNDELIVERABLE)
    assert "no active Bitrix24 user" in (surveys(engine)[0].reason or "")
    assert vendors.calls("imbot.message.add") == []


async def test_two_bitrix_users_with_the_email_is_undeliverable(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    twin = dict(vendors.bitrix.users[0], ID="31", EMAIL="I.Petrov@Romashka.example")
    vendors.bitrix.users.append(twin)
    await _close_and_wait(make_settings(database_url), vendors, engine, SurveyState.UNDELIVERABLE)
    assert "2 Bitrix24 users" in (surveys(engine)[0].reason or "")
    assert vendors.calls("imbot.message.add") == []


async def test_user_lookup_checks_the_email_itself(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # Bitrix24 drops filters a token may not use: then user.get answers everyone.
    vendors.bitrix.users.append(dict(vendors.bitrix.users[0], ID="99", EMAIL="x@other.example"))
    await _close_and_wait(make_settings(database_url), vendors, engine, SurveyState.AWAITING)
    (sent,) = vendors.calls("imbot.message.add")
    assert sent["DIALOG_ID"] == "27"
    lookup = vendors.calls("user.get")[0]
    assert lookup["FILTER"] == {"EMAIL": "i.petrov@romashka.example", "ACTIVE": True}


async def test_bitrix_busy_three_times_then_delivered_once(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.fail("imbot.message.add", 503, 503, 503)
    await _close_and_wait(make_settings(database_url), vendors, engine, SurveyState.AWAITING)
    assert len(vendors.calls("imbot.message.add")) == 4
    assert len(vendors.bitrix.messages) == 1
    (invite,) = [j for j in jobs(engine) if j.kind == "invite"]
    assert invite.state == JobState.DONE and invite.attempts == 4


async def test_okdesk_down_then_back_is_retried(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.okdesk.fail("contact", 500, (429, {"Retry-After": "0"}), 502)
    await _close_and_wait(make_settings(database_url), vendors, engine, SurveyState.AWAITING)
    assert len(vendors.bitrix.messages) == 1


async def test_refused_invitation_fails_the_survey_with_a_reason(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.fail("imbot.message.add", "ACCESS_DENIED")
    await _close_and_wait(make_settings(database_url), vendors, engine, SurveyState.FAILED)
    survey = surveys(engine)[0]
    assert "imbot.message.add" in (survey.reason or "")
    assert "ACCESS_DENIED" in (survey.reason or "")
    assert len(vendors.calls("imbot.message.add")) == 1


async def test_give_up_after_the_limit_marks_the_survey_failed(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.fail("imbot.message.add", *([503] * 1000))
    settings = make_settings(database_url, retry_give_up_after="0.5s")
    await _close_and_wait(settings, vendors, engine, SurveyState.FAILED)
    assert "gave up after" in (surveys(engine)[0].reason or "")


async def test_stopped_after_intake_still_delivers_once(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    stopped = make_settings(database_url, worker_enabled=False)
    async with running_app(stopped, vendors) as app:
        assert (await app.webhook(closed_webhook())).json()["result"] == "accepted"
    assert vendors.calls("imbot.message.add") == []
    async with running_app(make_settings(database_url), vendors):
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
        await asyncio.sleep(0.2)
    async with running_app(make_settings(database_url), vendors):
        await asyncio.sleep(0.3)
    assert len(vendors.calls("imbot.message.add")) == 1


async def test_reopened_before_invitation_is_cancelled_without_message(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        reopened = await app.webhook(fixture_json("okdesk/webhook_issue_reopened.json"))
    assert reopened.json()["result"] == "cancelled"
    async with running_app(make_settings(database_url), vendors):
        await asyncio.sleep(0.3)
    assert _state(engine) == SurveyState.CANCELLED
    assert vendors.bitrix.calls == []


async def test_reopened_after_invitation_removes_the_buttons(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
        await app.webhook(fixture_json("okdesk/webhook_issue_reopened.json"))
        await eventually(lambda: len(vendors.calls("imbot.message.update")) == 1)
    (update,) = vendors.calls("imbot.message.update")
    assert update["KEYBOARD"] == "N"
    assert "снова открыта" in update["MESSAGE"]
    assert _state(engine) == SurveyState.CANCELLED


async def test_closed_again_after_reopen_opens_a_new_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
        await app.webhook(fixture_json("okdesk/webhook_issue_reopened.json"))
        again = await app.webhook(closed_webhook())
        await eventually(lambda: len(vendors.calls("imbot.message.add")) == 2)
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
    assert again.json()["result"] == "accepted"
    states = [s.state for s in surveys(engine)]
    assert states == [SurveyState.CANCELLED, SurveyState.AWAITING]


async def test_registration_twice_makes_one_bot_and_one_command(database_url: str) -> None:

    fakes = seeded_vendors()
    settings = make_settings(database_url)
    async with httpx.AsyncClient(transport=fakes.transport) as http:
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        first = await register(client, settings)
        second = await register(client, settings)
        assert first.created and not second.created
        assert first.bot_id == second.bot_id and first.command_id == second.command_id
        assert len(fakes.bitrix.bots) == 1 and len(fakes.bitrix.commands) == 1
        bot = fakes.bitrix.bots[first.bot_id]
        assert bot["CODE"] == "okdesk_rating" and bot["TYPE"] == "B"
        assert bot["EVENT_HANDLER"].startswith(
            "https://rating.acme.example/api/v1/bitrix/events?token="
        )
        (command,) = fakes.bitrix.commands.values()
        assert command["COMMAND"] == "rate" and command["HIDDEN"] == "Y"
        assert await unregister(client, settings) == first.bot_id
        assert fakes.bitrix.bots == {}


async def test_administrator_retries_failed_surveys(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    from bridge.admin.views import status
    from bridge.worker.retrying import retry_failed
    from storage.tables import utcnow

    vendors.bitrix.fail("imbot.message.add", "ACCESS_DENIED")
    settings = make_settings(database_url)
    await _close_and_wait(settings, vendors, engine, SurveyState.FAILED)
    assert "ACCESS_DENIED" in status(engine)
    assert retry_failed(engine, settings, utcnow()) == (1, [])
    async with running_app(settings, vendors):
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
    assert len(vendors.bitrix.messages) == 1
    assert surveys(engine)[0].deadline_at is not None


async def test_many_closures_are_invited_in_batches(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:

    ids = list(range(9000, 9060))
    for issue_id in ids:
        vendors.okdesk.issues[issue_id] = rest_issue(issue_id)
    intake = make_settings(database_url, worker_enabled=False)
    async with running_app(intake, vendors) as app:
        for issue_id in ids:
            assert (await app.webhook(closed_webhook(issue_id))).status_code == 200
    async with running_app(make_settings(database_url), vendors):
        await eventually(lambda: len(vendors.bitrix.messages) == len(ids))
        await eventually(lambda: all(s.state == SurveyState.AWAITING for s in surveys(engine)))
    requests = [name for name, _ in vendors.bitrix.calls if name == "batch"]
    assert 2 <= len(requests) <= 6
    for message in vendors.bitrix.messages.values():
        buttons = message["KEYBOARD"]["BUTTONS"]
        assert [b["TEXT"] for b in buttons] == ["1", "2", "3", "4", "5"]
        assert buttons[3]["COMMAND"] == "rate" and buttons[3]["COMMAND_PARAMS"].endswith(":4")
        assert message["DIALOG_ID"] == "27" and message["CLIENT_ID"] == CLIENT_ID
    tokens = {s.token for s in surveys(engine)}
    params = {
        m["KEYBOARD"]["BUTTONS"][0]["COMMAND_PARAMS"][:-2] for m in vendors.bitrix.messages.values()
    }
    assert params == tokens


async def test_one_failed_call_in_a_batch_retries_only_that_invitation(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:

    ids = [9100, 9101, 9102]
    for issue_id in ids:
        vendors.okdesk.issues[issue_id] = rest_issue(issue_id)
    vendors.okdesk.fail("contact", 503)
    intake = make_settings(database_url, worker_enabled=False)
    async with running_app(intake, vendors) as app:
        for issue_id in ids:
            await app.webhook(closed_webhook(issue_id))
    async with running_app(make_settings(database_url), vendors):
        await eventually(lambda: all(s.state == SurveyState.AWAITING for s in surveys(engine)))
    assert len(vendors.bitrix.messages) == 3
