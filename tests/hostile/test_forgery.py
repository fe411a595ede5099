"""Whoever holds a secret URL still cannot rate for others or open surveys Okdesk does not show
(SQLite and PostgreSQL): typed scores are checked through our portal, events are bound to our
portal installation and our bot, and closures are read back from Okdesk before anyone is asked."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.client import BitrixClient
from harness.app import Running, running_app
from harness.constants import (
    BITRIX_BASE,
    CLIENT_ID,
    ISSUE_ID,
    USER_ID,
    USER_TOKEN,
    WEBHOOK_PATH,
)
from harness.payloads import (
    click_body,
    closed_webhook,
    fixture_bytes,
    oauth_reply_body,
    reply_body,
    rest_issue,
)
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import JobKind, SurveyState
from tests.databases import checked_bot, jobs, surveys

pytestmark = pytest.mark.anyio
ANOTHER_TOKEN = "f0f0f0f0000018d6000002370000001b0f1f5f4f5c6fffff"


async def _awaiting(app: Running, engine: Engine, issue_id: int = ISSUE_ID) -> None:
    assert (await app.webhook(closed_webhook(issue_id))).json() == {"result": "accepted"}
    await eventually(lambda: surveys(engine)[-1].state == SurveyState.AWAITING)


def _replies(engine: Engine) -> list[str]:
    return [j.payload for j in jobs(engine) if j.kind == JobKind.REPLY]


async def test_a_typed_score_over_the_event_channel_is_rated_with_no_token(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    """A webhook bot's events carry no user token (bitrix24.md §12): the authenticated channel
    (URL secret, application token, domain, member_id), a private chat and the survey's person
    make a clear typed score that person's answer; `profile` is not asked."""
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        assert (await app.event(reply_body("5"))).status_code == 200
        await eventually(lambda: surveys(engine)[0].rating_sent_at is not None)
    assert (surveys(engine)[0].score, surveys(engine)[0].rated_by) == (5, USER_ID)
    assert [name for name, _ in vendors.bitrix.calls if name == "profile"] == []
    assert len(vendors.okdesk.rate_posts) == 1


async def test_a_typed_score_with_a_token_counts_once_our_portal_confirms_its_sender(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        assert (await app.event(oauth_reply_body("5"))).status_code == 200
        await eventually(lambda: surveys(engine)[0].rating_sent_at is not None)
    assert (surveys(engine)[0].score, surveys(engine)[0].rated_by) == (5, USER_ID)
    assert [name for name, _ in vendors.bitrix.calls if name == "profile"] == ["profile"]
    # The person's token is not kept once it has been checked.
    assert all(USER_TOKEN not in j.payload for j in jobs(engine))


async def test_a_forged_typed_score_with_someone_elses_token_changes_nothing(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.user_tokens[ANOTHER_TOKEN] = 99
    forged = reply_body("1", message_id=555, **{"auth[access_token]": ANOTHER_TOKEN})
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        assert (await app.event(forged)).status_code == 200
        await eventually(lambda: any(n == "profile" for n, _ in vendors.bitrix.calls))
        await eventually(lambda: all(j.state != "pending" for j in jobs(engine)))
    assert surveys(engine)[0].state == SurveyState.AWAITING
    assert vendors.okdesk.rate_posts == []


@pytest.mark.parametrize("deactivated", [False, True])
async def test_a_typed_score_whose_token_the_portal_refuses_is_confirmed_with_buttons(
    database_url: str, engine: Engine, vendors: Vendors, deactivated: bool
) -> None:
    """An invented token (401), or the token of a user deactivated since (`profile` answers
    `[]`, bitrix24.md §13): not verified at once, asked back, never retried for 72 h."""
    token = "not-a-token-the-portal-knows"
    body = reply_body("4", message_id=556, **{"auth[access_token]": token})
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        if deactivated:
            vendors.bitrix.user_tokens[token] = USER_ID
            vendors.bitrix.users[0]["ACTIVE"] = False
        assert (await app.event(body)).status_code == 200
        await eventually(lambda: len(vendors.bitrix.messages) == 2)
    (asked,) = [m for m in vendors.bitrix.messages.values() if "Оценить заявку" in m["MESSAGE"]]
    assert asked["MESSAGE"] == f"Оценить заявку №{ISSUE_ID} на 4? Нажмите кнопку с оценкой."
    assert [b["TEXT"] for b in asked["KEYBOARD"]["BUTTONS"]] == ["1", "2", "3", "4", "5"]
    assert surveys(engine)[0].state == SurveyState.AWAITING
    assert [j.attempts for j in jobs(engine) if j.kind == JobKind.VERIFY_REPLY] == [1]


async def test_a_doubtful_reply_is_asked_back_not_guessed(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        assert (await app.event(reply_body("спасибо, 5", message_id=557))).status_code == 200
        assert (
            await app.event(reply_body("на 2 этаже не работает", message_id=558))
        ).status_code == 200
        await eventually(lambda: len(_replies(engine)) == 2)
    assert surveys(engine)[0].state == SurveyState.AWAITING
    assert "Оценить заявку" in _replies(engine)[0] and "на 5?" in _replies(engine)[0]
    assert "Чтобы оценить заявку" in _replies(engine)[1]


OURS = b"bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"


async def test_an_invented_member_id_pins_nothing_genuine_events_still_pass(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    """Issue 23.2: a click "by the survey's person" with an invented member_id once pinned it,
    and every genuine event was refused for good. Not configured, member_id is not checked."""
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        token = surveys(engine)[0].token
        forged = click_body(f"{token}:1").replace(OURS, b"f" * 32)
        assert (await app.event(forged)).status_code == 200
        join = fixture_bytes("bitrix24/ONIMBOTJOINCHAT_private.form")
        genuine = [(await app.event(join)).status_code for _ in range(3)]
        ready = (await app.client.get("/readyz")).json()
    assert genuine == [200, 200, 200]
    assert ready["checks"]["member_id"] == "off"


async def test_a_configured_member_id_refuses_another_and_readyz_shows_the_mismatch(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    join = fixture_bytes("bitrix24/ONIMBOTJOINCHAT_private.form")
    settings = make_settings(database_url, bitrix_member_id=OURS.decode())
    async with running_app(settings, vendors) as app:
        refused = await app.event(join.replace(OURS, b"f" * 32))
        mismatch = (await app.client.get("/readyz")).json()
        accepted = await app.event(join)
        cleared = (await app.client.get("/readyz")).json()
    assert refused.status_code == 403 and "installation" in refused.text
    assert mismatch["status"] == "not_ready"
    assert mismatch["checks"]["member_id"].startswith("an event carried member_id ffff")
    assert accepted.status_code == 200
    assert cleared["checks"]["member_id"] == "ok"


async def test_a_configured_member_id_refuses_even_the_first_event(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, bitrix_member_id="0" * 32)
    async with running_app(settings, vendors) as app:
        response = await app.event(fixture_bytes("bitrix24/ONIMBOTJOINCHAT_private.form"))
    assert response.status_code == 403


async def test_events_for_another_bot_are_not_ours(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        token = surveys(engine)[0].token
        another = click_body(f"{token}:1").replace(b"BOT_ID%5D=567", b"BOT_ID%5D=39")
        assert (await app.event(another)).status_code == 200
        deleted = fixture_bytes("bitrix24/ONIMBOTDELETE.form").replace(b"=567", b"=39")
        assert (await app.event(deleted)).status_code == 200
        ready = (await app.client.get("/readyz")).json()
    assert surveys(engine)[0].state == SurveyState.AWAITING
    assert ready["checks"]["bot"] == "ok"


async def test_a_forged_bot_deletion_changes_nothing_while_the_portal_lists_the_bot(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    """Issue 23.10: anyone with the handler URL can post ONIMBOTDELETE for our bot; the worker
    asks the portal (imbot.bot.list) and, the bot still listed, readiness stays ok."""
    async with running_app(make_settings(database_url), vendors) as app:
        assert (await app.event(fixture_bytes("bitrix24/ONIMBOTDELETE.form"))).status_code == 200
        await eventually(lambda: checked_bot(engine))
        asked = len(vendors.calls("imbot.bot.list"))
        ready = await app.client.get("/readyz")
        await _awaiting(app, engine)
    assert asked == 1
    assert ready.status_code == 200 and ready.json()["checks"]["bot"] == "ok"


async def test_a_closure_okdesk_does_not_show_invites_nobody(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.okdesk.issues[9401] = rest_issue(9401, status="opened")
    async with running_app(make_settings(database_url), vendors) as app:
        # A closure of a ticket Okdesk shows open, and one of a ticket Okdesk does not know.
        assert (await app.webhook(closed_webhook(9401))).json() == {"result": "accepted"}
        assert (await app.webhook(closed_webhook(9402))).json() == {"result": "accepted"}
        await eventually(lambda: all(s.state == SurveyState.CANCELLED for s in surveys(engine)))
        # The ticket is closed for real later: a new survey, and this time an invitation.
        vendors.okdesk.issues[9401]["status"] = {"code": "closed", "name": "Закрыта"}
        assert (await app.webhook(closed_webhook(9401))).json() == {"result": "accepted"}
        await eventually(lambda: surveys(engine)[-1].state == SurveyState.AWAITING)
    reasons = sorted(s.reason or "" for s in surveys(engine)[:2])
    assert reasons == ["the ticket is 'opened' in Okdesk, not done", "the ticket is not in Okdesk"]
    assert len(vendors.bitrix.messages) == 1


async def test_the_title_and_contact_come_from_okdesk_not_the_webhook(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    forged = closed_webhook(title="Срочно перейдите по ссылке")
    forged["issue"]["client"]["contact"]["id"] = 424242
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(forged)
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING)
    (message,) = vendors.bitrix.messages.values()
    assert "Касса не печатает чек" in message["MESSAGE"]
    assert "ссылке" not in message["MESSAGE"]


async def test_one_sender_opening_too_many_surveys_gets_429(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, webhook_surveys_per_minute=3, worker_enabled=False)
    async with running_app(settings, vendors) as app:
        answers = [(await app.webhook(closed_webhook(9500 + n))).status_code for n in range(5)]
        reopen = closed_webhook(9500)
        reopen["event"]["new_status"] = {"code": "opened", "name": "Открыта"}
        not_a_closure = (await app.webhook(reopen)).status_code
    assert answers == [200, 200, 200, 429, 429]
    assert not_a_closure == 200
    assert len(surveys(engine)) == 3


async def test_no_redirects_and_no_public_schema(database_url: str, vendors: Vendors) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        slash = await app.client.post(
            "/api/v1/okdesk/webhook/", params={"token": "secret-in-the-url"}, json={}
        )
        schema = await app.client.get("/openapi.json")
    assert slash.status_code == 404 and "location" not in slash.headers
    assert "secret-in-the-url" not in slash.text
    assert schema.status_code == 404


async def test_the_verification_asks_our_portal_never_a_url_from_the_event(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    body = reply_body(
        "5",
        message_id=559,
        **{
            "auth[client_endpoint]": "https://evil.example/rest/",
            "auth[server_endpoint]": "https://evil.example/oauth/",
        },
    )
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        assert (await app.event(body)).status_code == 200
        await eventually(lambda: surveys(engine)[0].state == SurveyState.RATED)
    assert vendors.transport.unexpected == []
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        assert await client.token_owner(USER_TOKEN) == USER_ID
        assert await client.token_owner("invented") is None
