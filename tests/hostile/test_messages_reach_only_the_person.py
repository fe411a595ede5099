"""Issue 23, point 1: a survey's buttons, and every other message about a survey, go only to the
survey's Bitrix24 user, never to a dialog an event names; an event's DIALOG_ID is checked for
form and length before anything is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from harness.app import Running, running_app
from harness.constants import ISSUE_ID, USER_ID
from harness.payloads import click_body, closed_webhook, event_body, reply_body
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.db import transaction
from storage.tables import SeenEvent, SurveyState
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio
ATTACKER = "99"


async def _awaiting(app: Running, engine: Engine) -> None:
    assert (await app.webhook(closed_webhook(ISSUE_ID))).json() == {"result": "accepted"}
    await eventually(lambda: [s.state for s in surveys(engine)] == [SurveyState.AWAITING])


def _sent_to(vendors: Vendors, dialog: str) -> list[str]:
    return [m["MESSAGE"] for m in vendors.bitrix.messages.values() if m["DIALOG_ID"] == dialog]


def _seen_rows(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.execute(select(func.count()).select_from(SeenEvent)).scalar_one())


async def test_a_forged_typed_score_naming_the_attackers_chat_never_brings_them_the_buttons(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # The victim's «5», with no token to check, would be asked back with the five buttons.
    forged = {"data[PARAMS][DIALOG_ID]": ATTACKER, "auth[access_token]": ""}
    in_group = {**forged, "data[PARAMS][DIALOG_ID]": "chat777"}
    async with running_app(make_settings(database_url), vendors) as app:
        await _awaiting(app, engine)
        private = await app.event(reply_body("5", message_id=701, **forged))
        group = await app.event(reply_body("5", message_id=702, **in_group))
        await eventually(lambda: all(j.state != "pending" for j in jobs(engine)))
    assert private.status_code == 403 and "DIALOG_ID" in private.text
    assert group.status_code == 403
    assert _sent_to(vendors, ATTACKER) == [] and _sent_to(vendors, "chat777") == []
    assert surveys(engine)[0].state == SurveyState.AWAITING
    assert vendors.okdesk.rate_posts == []


async def test_a_click_from_another_dialog_is_answered_in_the_survey_persons_chat(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, followup_max_score="3")
    async with running_app(settings, vendors) as app:
        await _awaiting(app, engine)
        token = surveys(engine)[0].token
        # A group chat passes the form check; the question after it still goes to the person.
        click = click_body(f"{token}:2").replace(b"DIALOG_ID%5D=27", b"DIALOG_ID%5D=chat777")
        assert (await app.event(click.replace(b"TYPE%5D=P", b"TYPE%5D=C"))).status_code == 200
        await eventually(lambda: all(j.state != "pending" for j in jobs(engine)))
    assert _sent_to(vendors, "chat777") == []
    (question,) = [m for m in _sent_to(vendors, str(USER_ID)) if m.startswith("Что пошло")]
    assert f"№{ISSUE_ID}" in question


@pytest.mark.parametrize(
    "dialog",
    ["9" * 58 * 1024, "chat" + "1" * 200, "x" * 171, "27 OR 1=1", "chat", "-27", "27\n", "user27"],
)
async def test_a_dialog_id_not_of_a_dialogs_form_is_refused_before_anything_is_stored(
    database_url: str, engine: Engine, vendors: Vendors, dialog: str
) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    body = reply_body("алло?", message_id=703, **{"data[PARAMS][DIALOG_ID]": dialog})
    join = event_body("ONIMBOTJOINCHAT_private", **{"data[PARAMS][DIALOG_ID]": dialog})
    async with running_app(settings, vendors) as app:
        reply = await app.event(body)
        joined = await app.event(join)
    assert (reply.status_code, joined.status_code) == (400, 400)
    assert "DIALOG_ID" in reply.text
    assert jobs(engine) == [] and _seen_rows(engine) == 0
