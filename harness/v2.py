"""The service on imbot.v2: the fake portal that speaks it, settings that choose it, and the
v2 bot registered as `python -m bot.register` would."""

from __future__ import annotations

from typing import Any

import httpx

from bot.client import BitrixClient
from bot.v2.messenger_v2 import ImbotV2Messenger
from bot.v2.register_v2 import register_v2
from bridge.config.settings import Settings
from harness.constants import BITRIX_BASE, CLIENT_ID, USER_ID, USER_TOKEN, WEBHOOK_PATH
from harness.payloads import fixture_json
from harness.vendors import Vendors, make_settings, seeded_vendors
from sandbox.fakes.bitrix_v2 import FakeBitrixV2

BOT_TOKEN = "v2-bot-token-0123456789abcdef"


def v2_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings on imbot.v2 in fetch mode, with no public address at all."""
    values: dict[str, Any] = {
        "bitrix_api": "v2",
        "bitrix_bot_token": BOT_TOKEN,
        "public_url": "",
        "bitrix_poll_interval": "1s",
        # The poll lease is twice this: a crashed poller's lease runs out in 3 s.
        "http_timeout": "1.5s",
    }
    return make_settings(database_url, **{**values, **overrides})


async def v2_vendors(database_url: str, **settings: Any) -> Vendors:
    """Seeded fakes whose portal speaks imbot.v2, with the v2 bot registered."""
    fakes = seeded_vendors()
    portal = FakeBitrixV2(webhook_path=WEBHOOK_PATH, v2_rate_limit=False)
    portal.users = list(fixture_json("bitrix24/user_get_by_email.json")["result"])
    portal.user_tokens[USER_TOKEN] = USER_ID
    fakes.bitrix = portal
    fakes.transport.routes["acme.bitrix24.ru"] = httpx.ASGITransport(app=portal.app)
    async with httpx.AsyncClient(transport=fakes.transport) as http:
        await register_v2(bitrix_client(http), v2_settings(database_url, **settings))
    portal.calls.clear()
    return fakes


def bitrix_client(http: httpx.AsyncClient) -> BitrixClient:
    """A client of the fake portal, as the service builds it."""
    return BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)


def v2_messenger(http: httpx.AsyncClient, settings: Settings) -> ImbotV2Messenger:
    """The v2 messenger the service would use."""
    return ImbotV2Messenger(bitrix_client(http), settings.bitrix_v2_bot_code, settings.bot_token)


def portal(vendors: Vendors) -> FakeBitrixV2:
    """The fake portal, as the v2 fake it is."""
    assert isinstance(vendors.bitrix, FakeBitrixV2)
    return vendors.bitrix
