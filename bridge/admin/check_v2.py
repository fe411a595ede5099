"""`check` with `BITRIX_API=v2`: the v2 bot (found by its code) and its `rate` command
(registered again: imbot.v2.Command.register returns an existing command unchanged)."""

from __future__ import annotations

from bot.client import BitrixClient
from bot.messenger import register_step
from bot.settings import BotSettings
from bot.texts.messages import RATE_COMMAND
from bot.v2.register_v2 import find_v2_bot


async def v2_bot(settings: BotSettings, bitrix: BitrixClient) -> tuple[bool, str]:
    """Whether the portal has our v2 bot, with the id `.env` names."""
    code = settings.bitrix_v2_bot_code
    found = await find_v2_bot(bitrix, settings)
    if found is None:
        return False, f"no imbot.v2 bot with code {code!r}: run {register_step()}"
    configured = settings.bitrix_v2_bot_id
    if configured is not None and configured != found:
        return False, f"BITRIX_V2_BOT_ID is {configured} but the portal's bot is {found}: fix .env"
    return True, f"imbot.v2 bot {found} with code {code!r} ({settings.bitrix_event_mode} mode)"


async def v2_command(settings: BotSettings, bitrix: BitrixClient) -> tuple[bool, str]:
    """The hidden `rate` command of the v2 bot, registered again idempotently."""
    bot_id = await find_v2_bot(bitrix, settings)
    if bot_id is None:
        return False, f"no bot, so no command: run {register_step()}"
    fields = {"command": RATE_COMMAND, "hidden": True, "extranetSupport": True}
    body = {"botId": bot_id, "botToken": settings.bot_token, "fields": fields}
    answer = await bitrix.call("imbot.v2.Command.register", body)
    return True, f"command id {answer['command']['id']} (registered again, idempotently)"
