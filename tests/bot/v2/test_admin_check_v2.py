"""`python -m bridge.admin check` with BITRIX_API=v2 in fetch mode: the v2 bot and its command,
and no public address needed."""

from __future__ import annotations

import asyncio

import pytest

from harness.v2 import BOT_TOKEN, v2_settings, v2_vendors
from tests.admin.cli import admin

pytestmark = pytest.mark.anyio


async def test_check_passes_on_imbot_v2_without_a_public_url(database_url: str) -> None:
    vendors = await v2_vendors(database_url)
    settings = v2_settings(database_url)
    ran = await asyncio.to_thread(admin, settings, "check", transport=vendors.transport)
    assert ran.code == 0, ran.out
    assert "bitrix24 bot: imbot.v2 bot 567 with code 'okdesk_rating_v2' (fetch mode)" in ran.out
    assert "public url: not needed" in ran.out
    assert len(vendors.bitrix.commands) == 1 and BOT_TOKEN not in ran.out
