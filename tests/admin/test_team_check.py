"""`python -m bridge.admin check` tells whether the bot can write to the team's chat
(ALERT_DIALOG_ID): it posts a check message there, or says what Bitrix24 refused and what to do.
Against the fake portal, whose group chats take a bot's message only from a member."""

from __future__ import annotations

import asyncio

import pytest

from harness.vendors import Vendors, make_settings
from tests.admin.cli import Ran, admin

pytestmark = pytest.mark.anyio
MEMBERS = {"ID": 1157, "TITLE": "Поддержка", "USERS": [52], "BOT_CODES": ["okdesk_rating"]}


async def _check(database_url: str, vendors: Vendors, **settings: str) -> Ran:
    configured = make_settings(database_url, **settings)
    return await asyncio.to_thread(admin, configured, "check", transport=vendors.transport)


def _line(ran: Ran) -> str:
    (line,) = [line for line in ran.out.splitlines() if "team chat" in line]
    return line


async def test_check_posts_to_a_team_chat_the_bot_is_in(
    database_url: str, vendors: Vendors
) -> None:
    vendors.bitrix.control_seed({"chats": [MEMBERS]})

    ran = await _check(database_url, vendors, alert_dialog_id="chat1157", digest_at="mon 09:00")

    assert _line(ran).startswith("ok    team chat: the bot posted a check message to chat1157")
    (posted,) = [m for m in vendors.bitrix.messages.values() if m["DIALOG_ID"] == "chat1157"]
    assert posted["MESSAGE"] == (
        "Проверка: бот оценки заявок может писать в этот чат. Сюда придут оповещения о "
        "низких оценках и недельная сводка."
    )


async def test_check_fails_with_what_to_do_when_the_bot_is_not_in_the_chat(
    database_url: str, vendors: Vendors
) -> None:
    vendors.bitrix.control_seed({"chats": [{**MEMBERS, "BOT_CODES": []}]})

    ran = await _check(database_url, vendors, alert_dialog_id="chat1157")

    assert ran.code == 1
    line = _line(ran)
    assert line.startswith("FAIL  team chat: the bot cannot write to chat1157")
    assert "ACCESS_DENIED" in line and "add the bot to that chat" in line
    assert not vendors.bitrix.messages


async def test_no_team_chat_no_line(database_url: str, vendors: Vendors) -> None:
    ran = await _check(database_url, vendors)
    assert "team chat" not in ran.out
