"""The imbot.v2 messenger behaves as the v1 one: buttons sent and removed, a message it may not
edit reported as such, a re-registered bot found again, a missing bot waited for."""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
import pytest

from bot.client import BitrixClient
from bot.errors import MessageNotEditableError
from bot.messenger import ChatMessage
from bot.texts.messages import rating_keyboard
from bot.v2.messenger_v2 import ImbotV2Messenger
from bot.v2.register_v2 import register_v2
from harness.constants import BITRIX_BASE, CLIENT_ID, WEBHOOK_PATH
from harness.v2 import BOT_TOKEN, v2_settings
from outbound.errors import TransientError
from sandbox.fakes.bitrix_v2 import FakeBitrixV2

pytestmark = pytest.mark.anyio


async def _messenger(http: httpx.AsyncClient, fake: FakeBitrixV2) -> ImbotV2Messenger:
    client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
    await register_v2(client, v2_settings("sqlite://"))
    return ImbotV2Messenger(client, "okdesk_rating_v2", BOT_TOKEN)


def _http(fake: FakeBitrixV2) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app), base_url=BITRIX_BASE)


async def test_buttons_are_sent_with_the_bot_id_and_removed_by_an_edit() -> None:
    fake = FakeBitrixV2(WEBHOOK_PATH, v2_rate_limit=False)
    async with _http(fake) as http:
        chat = await _messenger(http, fake)
        sent = await chat.send("27", ChatMessage("Rate", rating_keyboard("tok")))
        keyboard = fake.messages[sent]["KEYBOARD"]
        assert keyboard["BOT_ID"] == chat.known_bot_id()
        assert keyboard["BUTTONS"][0]["COMMAND_PARAMS"] == "tok:1"
        (_, body), *_ = [c for c in fake.calls if c[0] == "imbot.v2.chat.message.send"]
        assert "CLIENT_ID" not in body and body["botToken"] == BOT_TOKEN
        await chat.edit(sent, ChatMessage("Thanks"))
    assert fake.messages[sent]["KEYBOARD"] is None and fake.messages[sent]["MESSAGE"] == "Thanks"


async def test_an_old_message_is_edited_and_a_deleted_one_is_reported_as_not_editable() -> None:
    fake = FakeBitrixV2(WEBHOOK_PATH, v2_rate_limit=False)
    async with _http(fake) as http:
        chat = await _messenger(http, fake)
        old = await chat.send("27", ChatMessage("Rate", rating_keyboard("tok")))
        fake.uneditable.add(old)  # past v1's edit period: v2 edits have no time limit
        await chat.edit(old, ChatMessage("Thanks"))
        assert fake.messages[old]["MESSAGE"] == "Thanks"
        fake.messages[old]["deleted"] = True
        with pytest.raises(MessageNotEditableError):
            await chat.edit(old, ChatMessage("Thanks again"))


@pytest.mark.parametrize("status", [429, 503])
async def test_throttling_either_way_is_transient_and_passes_after_a_pause(
    status: Literal[429, 503],
) -> None:
    fake = FakeBitrixV2(WEBHOOK_PATH, v2_rate_limit=False, v2_throttle_status=status)
    async with _http(fake) as http:
        bot_id = await (await _messenger(http, fake)).bot_id()
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        fake.v2_rate_limit = True
        fetch = {"botId": bot_id, "botToken": BOT_TOKEN}
        await client.call("imbot.v2.Event.get", fetch)
        await client.call("imbot.v2.Event.get", fetch)
        with pytest.raises(TransientError) as limited:
            await client.call("imbot.v2.Event.get", fetch)
        # Transient (retried later), never PortalBlockedError (a 503 OVERLOAD_LIMIT: stop).
        assert type(limited.value) is TransientError
        assert limited.value.code == "QUERY_LIMIT_EXCEEDED" and fake.limited == 1
        await asyncio.sleep(1.05)
        assert "events" in await client.call("imbot.v2.Event.get", fetch)


async def test_a_deleted_bot_is_found_again_by_code_or_waited_for() -> None:
    fake = FakeBitrixV2(WEBHOOK_PATH, v2_rate_limit=False)
    async with _http(fake) as http:
        chat = await _messenger(http, fake)
        old = await chat.bot_id()
        fake.bots.pop(old)
        with pytest.raises(TransientError):
            await chat.send("27", ChatMessage("Rate"))
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        await register_v2(client, v2_settings("sqlite://"))
        await chat.send("27", ChatMessage("Rate"))
        assert chat.known_bot_id() not in (None, old)


@pytest.mark.parametrize("in_batch", [False, True])
async def test_messages_sent_together_share_a_batch_only_where_the_portal_runs_v2_in_one(
    in_batch: bool,
) -> None:
    """Undocumented (bitrix24-v2.md says nothing of batch): by default each v2 message is a
    request of its own, and the fake refuses v2 calls inside a batch; BITRIX_V2_IN_BATCH (here
    `in_batch`) lets them share requests where the portal runs them."""
    fake = FakeBitrixV2(WEBHOOK_PATH, v2_rate_limit=False, v2_in_batch=in_batch)
    async with _http(fake) as http:
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        await register_v2(client, v2_settings("sqlite://"))
        chat = ImbotV2Messenger(client, "okdesk_rating_v2", BOT_TOKEN, in_batch=in_batch)
        await chat.bot_id()
        before = fake.http_requests
        messages = {str(n): ("27", ChatMessage(f"Message {n}")) for n in range(6)}
        sent = await chat.send_many(messages)
    assert sorted(fake.messages[i]["MESSAGE"] for i in sent.values() if isinstance(i, int)) == [
        f"Message {n}" for n in range(6)
    ]
    requests = fake.http_requests - before
    assert requests < 6 if in_batch else requests == 6
