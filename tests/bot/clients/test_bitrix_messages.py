"""Sending and editing the bot's messages through the transport."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from bot.client import BitrixClient
from bot.messenger import ChatMessage, ImbotMessenger
from bot.texts.messages import (
    rating_keyboard,
)
from outbound.errors import TransientError
from tests.bot.clients.wire import CLIENT_ID, WEBHOOK, ok, sent_json

pytestmark = pytest.mark.anyio


# --- the imbot transport ---------------------------------------------------------------------


async def test_send_posts_imbot_message_add_with_keyboard(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok(84400))
    transport = ImbotMessenger(bitrix, "okdesk_rating", bot_id=567)
    keyboard = rating_keyboard("s7Kq2m")

    message_id = await transport.send("27", ChatMessage("[b]Заявка №1042[/b]", keyboard))

    assert message_id == 84400
    assert sent_json(route) == {
        "BOT_ID": 567,
        "CLIENT_ID": CLIENT_ID,
        "DIALOG_ID": "27",
        "MESSAGE": "[b]Заявка №1042[/b]",
        "KEYBOARD": keyboard,
    }


async def test_send_without_keyboard_sends_no_keyboard_and_reads_string_ids(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok("84401"))
    transport = ImbotMessenger(bitrix, "okdesk_rating", bot_id=567)

    assert await transport.send("chat1157", ChatMessage("hello")) == 84401
    assert "KEYBOARD" not in sent_json(route)
    assert sent_json(route)["DIALOG_ID"] == "chat1157"


@pytest.mark.parametrize(
    ("keyboard", "sent"),
    [(None, "N"), (rating_keyboard("tok"), rating_keyboard("tok"))],
)
async def test_edit_replaces_text_and_keyboard_n_removes_it(
    router: respx.MockRouter,
    bitrix: BitrixClient,
    keyboard: dict[str, Any] | None,
    sent: Any,
) -> None:
    route = router.post(f"{WEBHOOK}imbot.message.update").mock(return_value=ok(True))
    transport = ImbotMessenger(bitrix, "okdesk_rating", bot_id=567)

    await transport.edit(84400, ChatMessage("Спасибо! 4 из 5.", keyboard))

    assert sent_json(route) == {
        "BOT_ID": 567,
        "CLIENT_ID": CLIENT_ID,
        "MESSAGE_ID": 84400,
        "MESSAGE": "Спасибо! 4 из 5.",
        "KEYBOARD": sent,
    }


async def test_transport_without_bot_id_finds_it_once_by_code(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    listing = router.post(f"{WEBHOOK}imbot.bot.list").mock(
        return_value=ok(
            {"39": {"ID": 39, "CODE": "other"}, "567": {"ID": 567, "CODE": "okdesk_rating"}}
        )
    )
    sending = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok(1))
    transport = ImbotMessenger(bitrix, "okdesk_rating")

    await transport.send("27", ChatMessage("one"))
    await transport.send("28", ChatMessage("two"))

    assert listing.call_count == 1
    assert [json.loads(c.request.content)["BOT_ID"] for c in sending.calls] == [567, 567]


@pytest.mark.parametrize("bots", [[], {"39": {"ID": 39, "CODE": "okdesk_rating_old"}}])
async def test_no_bot_with_the_code_waits_with_the_register_hint(
    router: respx.MockRouter, bitrix: BitrixClient, bots: Any
) -> None:
    router.post(f"{WEBHOOK}imbot.bot.list").mock(return_value=ok(bots))
    sending = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok(1))
    transport = ImbotMessenger(bitrix, "okdesk_rating")

    # Invitations wait for the bot to be registered (bot.messenger), they do not fail.
    with pytest.raises(TransientError, match=r"python -m bot\.register"):
        await transport.send("27", ChatMessage("hello"))

    assert sending.call_count == 0
