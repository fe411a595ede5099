"""A command's client of a portal (`bot.register`, `admin check`, `portal add`, `portal
remove`), built one way: the portal's webhook and CLIENT_ID, outside the shared budget, and
paced on imbot.v2 (its 2 requests a second)."""

from __future__ import annotations

import httpx

from bot.client import Unlimited, webhook_client
from bot.v2.pacing import Paced
from harness.constants import BITRIX_BASE, CLIENT_ID, WEBHOOK_PATH
from harness.vendors import make_settings


def test_a_commands_client_is_paced_on_v2_only() -> None:
    settings = make_settings("sqlite://")
    http = httpx.AsyncClient()
    v1 = webhook_client(http, settings)
    v2 = webhook_client(http, settings.model_copy(update={"bitrix_api": "v2"}))
    assert isinstance(v1._budget, Unlimited) and isinstance(v2._budget, Paced)
    assert v1.client_id == v2.client_id == CLIENT_ID
    assert v1._base == v2._base == BITRIX_BASE + WEBHOOK_PATH
