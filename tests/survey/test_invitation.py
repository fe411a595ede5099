"""A closed Okdesk ticket becomes one survey and exactly one invitation in Bitrix24 chat."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import Engine

from harness.app import running_app
from harness.constants import CLIENT_ID, ISSUE_ID, USER_ID
from harness.payloads import closed_webhook, fixture_json
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import SurveyState
from tests.databases import surveys

pytestmark = pytest.mark.anyio


def _invited(engine: Engine) -> bool:
    return any(s.state == SurveyState.AWAITING for s in surveys(engine))


async def test_closed_ticket_sends_one_invitation_with_five_buttons(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        response = await app.webhook(closed_webhook())
        assert response.status_code == 200
        assert response.json() == {"result": "accepted"}
        await eventually(lambda: _invited(engine))

    (survey,) = surveys(engine)
    (sent,) = vendors.calls("imbot.message.add")
    assert sent["BOT_ID"] == 567
    assert sent["CLIENT_ID"] == CLIENT_ID
    assert sent["DIALOG_ID"] == str(USER_ID)
    assert "№314599" in sent["MESSAGE"]
    assert "Касса не печатает чек" in sent["MESSAGE"]
    assert "Алексей Сергеевич Карпенко" in sent["MESSAGE"]
    buttons = sent["KEYBOARD"]["BUTTONS"]
    assert [b["TEXT"] for b in buttons] == ["1", "2", "3", "4", "5"]
    assert {b["COMMAND"] for b in buttons} == {"rate"}
    assert {b["BLOCK"] for b in buttons} == {"Y"}
    assert [b["COMMAND_PARAMS"] for b in buttons] == [f"{survey.token}:{n}" for n in range(1, 6)]
    assert len(survey.token) >= 16
    assert survey.issue_id == ISSUE_ID
    assert survey.bitrix_user_id == USER_ID
    assert survey.message_id in vendors.bitrix.messages


async def test_invitation_in_english_when_configured(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url, language="en"), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _invited(engine))
    (sent,) = vendors.calls("imbot.message.add")
    assert sent["MESSAGE"].startswith("[b]Ticket #314599 is closed")
    assert "Engineer: Алексей Сергеевич Карпенко" in sent["MESSAGE"]


async def test_old_webhook_path_still_accepted(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, vendors) as app:
        response = await app.webhook(closed_webhook(), path="create_rate_request")
    assert response.status_code == 200
    assert len(surveys(engine)) == 1


async def test_string_ids_as_in_the_documentation_are_accepted(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    payload = closed_webhook()
    payload["issue"]["id"] = str(ISSUE_ID)
    payload["issue"]["client"]["contact"]["id"] = "11771"
    async with running_app(make_settings(database_url), vendors) as app:
        assert (await app.webhook(payload)).status_code == 200
        await eventually(lambda: _invited(engine))
    assert surveys(engine)[0].issue_id == ISSUE_ID


async def test_duplicate_webhook_creates_one_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        first = await app.webhook(closed_webhook())
        second = await app.webhook(closed_webhook())
        await eventually(lambda: _invited(engine))
        await asyncio.sleep(0.2)
    assert first.json()["result"] == "accepted"
    assert second.json()["result"] == "duplicate"
    assert len(surveys(engine)) == 1
    assert len(vendors.calls("imbot.message.add")) == 1


async def test_ten_concurrent_deliveries_create_one_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        responses = await asyncio.gather(*(app.webhook(closed_webhook()) for _ in range(10)))
        await eventually(lambda: _invited(engine))
        await asyncio.sleep(0.2)
    assert {r.status_code for r in responses} == {200}
    assert sorted(r.json()["result"] for r in responses).count("accepted") == 1
    assert len(surveys(engine)) == 1
    assert len(vendors.calls("imbot.message.add")) == 1


@pytest.mark.parametrize("token", [None, "", "wrong-token-0123456789", "токен-неверный"])
async def test_wrong_or_missing_token_is_refused_and_nothing_stored(
    database_url: str, engine: Engine, vendors: Vendors, token: str | None
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        response = await app.webhook(closed_webhook(), token=token)
    assert response.status_code == 401
    assert surveys(engine) == []
    assert vendors.okdesk.requests == [] and vendors.bitrix.calls == []


async def test_token_in_header_is_accepted(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, vendors) as app:
        token = settings.okdesk_webhook_token.get_secret_value()
        response = await app.webhook(closed_webhook(), token=token, in_header=True)
    assert response.status_code == 200
    assert len(surveys(engine)) == 1


@pytest.mark.parametrize(
    "payload",
    [
        fixture_json("okdesk/webhook_issue_reopened.json"),
        {"event": {"event_type": "new_comment"}, "issue": {"id": 1}},
        {"event": {"event_type": "new_company"}, "company": {"id": 5}},
    ],
    ids=["other-status", "other-event", "non-issue-event"],
)
async def test_other_events_and_statuses_are_ignored(
    database_url: str, engine: Engine, vendors: Vendors, payload: dict[str, object]
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        response = await app.webhook(payload)
    assert response.status_code == 200
    assert response.json()["result"] == "ignored"
    assert surveys(engine) == []


async def test_trigger_statuses_are_a_setting(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    payload = closed_webhook()
    payload["event"]["new_status"] = {"code": "completed", "name": "Решена"}
    settings = make_settings(database_url, okdesk_trigger_statuses="completed,closed")
    async with running_app(settings, vendors) as app:
        response = await app.webhook(payload)
        await eventually(lambda: _invited(engine))
    assert response.json()["result"] == "accepted"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"{}", "text/plain", 415, "application/json"),
        (b"not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "JSON object"),
        (b'{"event": {}}', "application/json", 400, "event.event_type"),
        (
            b'{"event": {"event_type": "new_ticket_status", "new_status": {"code": "closed"}}}',
            "application/json",
            400,
            "issue",
        ),
        (
            b'{"event": {"event_type": "new_ticket_status"}, "issue": {"id": "abc"}}',
            "application/json",
            400,
            "issue.id",
        ),
        (b"\xff\xfe", "application/json", 400, "not valid JSON"),
    ],
)
async def test_bad_webhook_bodies_get_a_clear_error(
    database_url: str,
    engine: Engine,
    vendors: Vendors,
    content: bytes,
    content_type: str,
    status: int,
    message: str,
) -> None:
    settings = make_settings(database_url)
    async with running_app(settings, vendors) as app:
        response = await app.client.post(
            "/api/v1/okdesk/webhook",
            params={"token": settings.okdesk_webhook_token.get_secret_value()},
            content=content,
            headers={"content-type": content_type},
        )
    assert response.status_code == status
    assert message in response.json()["detail"]
    assert surveys(engine) == []


async def test_a_long_ticket_description_is_accepted_and_a_huge_body_refused(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # A ticket made from a long e-mail: Okdesk sends its whole HTML description.
    long = closed_webhook()
    long["issue"]["description"] = "<p>" + "Длинное письмо клиента. " * 22_000 + "</p>"
    assert len(json.dumps(long, ensure_ascii=False).encode()) > 900 * 1024
    huge = closed_webhook(ISSUE_ID + 1)
    huge["issue"]["description"] = "x" * (3 * 1024 * 1024)
    async with running_app(make_settings(database_url), vendors) as app:
        accepted = await app.webhook(long)
        response = await app.webhook(huge)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(48):
                yield b"x" * (64 * 1024)

        chunked = await app.client.post(
            "/api/v1/okdesk/webhook",
            params={"token": app.settings.okdesk_webhook_token.get_secret_value()},
            content=chunks(),
            headers={"content-type": "application/json"},
        )
    assert accepted.json() == {"result": "accepted"}
    assert response.status_code == 413 and "2097152 bytes" in response.text
    assert chunked.status_code == 413
    assert [s.issue_id for s in surveys(engine)] == [ISSUE_ID]
