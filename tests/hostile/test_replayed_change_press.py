"""Issue 23, point 10: a captured «Изменить оценку» press and an old click, replayed within
CHANGE_WINDOW, do not bring the old score back (bad → good → bad): each press counts for one
change, and a stale one gets a short answer. A button drawn before the press carried the count
still works while no change was made (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from harness.app import Running, running_app
from harness.constants import ISSUE_ID, USER_ID
from harness.payloads import click_body, closed_webhook
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import SurveyState
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _okdesk_replaces_a_rating(vendors: Vendors) -> None:
    # A change reaches Okdesk only where it replaces a rating (the fake's other reading).
    vendors.okdesk.readings.second_rating = "replaced"


def _settings(database_url: str) -> Any:
    return make_settings(database_url, change_window="1h", followup_max_score="off")


async def _settled(engine: Engine) -> None:
    await eventually(lambda: all(j.state != "pending" for j in jobs(engine)))


async def _rated(app: Running, engine: Engine, vendors: Vendors, score: int) -> str:
    assert (await app.webhook(closed_webhook(ISSUE_ID))).json() == {"result": "accepted"}
    await eventually(lambda: [s.state for s in surveys(engine)] == [SurveyState.AWAITING])
    token = surveys(engine)[0].token
    assert (await app.event(click_body(f"{token}:{score}"))).status_code == 200
    await _settled(engine)
    return token


def _change_button(vendors: Vendors) -> str:
    """The COMMAND_PARAMS of the «Изменить оценку» button the chat shows now."""
    for message in vendors.bitrix.messages.values():
        keyboard = message["KEYBOARD"]
        if isinstance(keyboard, str):
            keyboard = json.loads(keyboard)
        for button in (keyboard or {}).get("BUTTONS", []):
            if str(button["COMMAND_PARAMS"]).endswith(":change") or ":change:" in str(
                button["COMMAND_PARAMS"]
            ):
                return str(button["COMMAND_PARAMS"])
    raise AssertionError("no «Изменить оценку» button in the chat")


def _rates(vendors: Vendors) -> list[str]:
    return [str(body["rate"]) for issue, body in vendors.okdesk.rate_posts if issue == ISSUE_ID]


def _said(vendors: Vendors) -> list[str]:
    dialog = str(USER_ID)
    return [m["MESSAGE"] for m in vendors.bitrix.messages.values() if m["DIALOG_ID"] == dialog]


async def test_a_replayed_change_press_and_old_click_do_not_restore_the_old_score(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(_settings(database_url), vendors) as app:
        token = await _rated(app, engine, vendors, 2)
        captured_press = click_body(_change_button(vendors))
        captured_click = click_body(f"{token}:2")
        assert (await app.event(captured_press)).status_code == 200
        await _settled(engine)
        assert (await app.event(click_body(f"{token}:4"))).status_code == 200
        await _settled(engine)
        assert surveys(engine)[0].score == 4

        await app.event(captured_press)
        await app.event(captured_click)
        await _settled(engine)

    survey = surveys(engine)[0]
    assert (survey.score, survey.okdesk_rate, survey.changing) == (4, "good", False)
    assert _rates(vendors) == ["bad", "good"]
    assert any("Эта кнопка уже использована" in text for text in _said(vendors))


async def test_the_new_change_button_still_works_after_a_change(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(_settings(database_url), vendors) as app:
        token = await _rated(app, engine, vendors, 2)
        for score in (4, 1):
            assert (await app.event(click_body(_change_button(vendors)))).status_code == 200
            await _settled(engine)
            assert (await app.event(click_body(f"{token}:{score}"))).status_code == 200
            await _settled(engine)
    assert surveys(engine)[0].score == 1 and _rates(vendors) == ["bad", "good", "bad"]


async def test_a_change_button_drawn_before_the_count_works_until_the_first_change(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(_settings(database_url), vendors) as app:
        token = await _rated(app, engine, vendors, 2)
        old_button = click_body(f"{token}:change")
        assert (await app.event(old_button)).status_code == 200
        await _settled(engine)
        await app.event(click_body(f"{token}:4"))
        await _settled(engine)
        await app.event(old_button)
        await app.event(click_body(f"{token}:2"))
        await _settled(engine)
    assert surveys(engine)[0].score == 4 and _rates(vendors) == ["bad", "good"]
