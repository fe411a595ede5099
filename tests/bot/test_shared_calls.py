"""Messages sent at about the same time share `batch` requests (`bot.batching.shared`), each
with its own outcome, and a bot whose id is not configured is looked up once for them all."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from bot.client import BitrixClient
from bot.messenger import ChatMessage, ImbotMessenger
from bot.register import register
from bot.settings import BotSettings
from harness.constants import BITRIX_BASE, CLIENT_ID, EVENTS_TOKEN, WEBHOOK_PATH
from outbound.errors import RejectedError
from sandbox.fakes.bitrix import FakeBitrix

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _messenger(http: httpx.AsyncClient) -> ImbotMessenger:
    client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
    settings = BotSettings(
        _env_file=None,
        bitrix_webhook_url=BITRIX_BASE + WEBHOOK_PATH,
        bitrix_client_id=CLIENT_ID,
        bitrix_events_token=EVENTS_TOKEN,
        public_url="https://rating.acme.example/",
    )
    await register(client, settings)
    return ImbotMessenger(client, settings.bitrix_bot_code)


async def test_sixty_messages_share_two_requests_and_one_bad_one_fails_alone() -> None:
    fake = FakeBitrix(webhook_path=WEBHOOK_PATH)
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport) as http:
        chat = await _messenger(http)
        fake.calls.clear()
        before = fake.http_requests
        messages = {str(n): (str(27 + n % 2), ChatMessage(f"Message {n}")) for n in range(60)}
        messages["7"] = ("", ChatMessage("To nobody"))  # DIALOG_ID_EMPTY, for this one only
        sent = await chat.send_many(messages)
    methods = Counter(method for method, _ in fake.calls)
    # One lookup of the bot for all sixty, then 60 sends in two batches (50 + 10).
    assert methods == {"imbot.bot.list": 1, "batch": 2, "imbot.message.add": 60}
    assert fake.http_requests - before == 3
    failed = {key: error for key, error in sent.items() if not isinstance(error, int)}
    assert list(failed) == ["7"] and isinstance(failed["7"], RejectedError)
    assert failed["7"].code == "DIALOG_ID_EMPTY"
    texts = sorted(fake.messages[m]["MESSAGE"] for m in sent.values() if isinstance(m, int))
    assert texts == sorted(f"Message {n}" for n in range(60) if n != 7)
