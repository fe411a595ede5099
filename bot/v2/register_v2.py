"""Registering the imbot.v2 bot (`python -m bot.register` with `BITRIX_API=v2`).

Its own code (`BITRIX_V2_BOT_CODE`), never the v1 bot's: the same code with a token equal to
the old CLIENT_ID would hand back the v1 bot, which gets events in v1's format only (§1).
Idempotent: the bot is looked up by code (`Bot.get`) and updated in place, or registered;
`Command.register` returns an existing command unchanged.
"""

from __future__ import annotations

from typing import Any

from bot.client import BitrixClient
from bot.settings import BotSettings, SettingsError
from bot.texts.messages import RATE_COMMAND
from outbound.errors import RejectedError

V2_EVENTS_PATH = "api/v1/bitrix/v2/events"


def v2_handler_url(settings: BotSettings) -> str:
    """Where Bitrix24 posts the v2 bot's events in webhook mode (a secret in the URL, §5)."""
    if not settings.public_url:
        raise SettingsError(
            "invalid settings:\n  PUBLIC_URL: is required with BITRIX_EVENT_MODE=webhook"
        )
    token = settings.bitrix_events_token.get_secret_value()
    return f"{settings.public_url}{V2_EVENTS_PATH}?token={token}"


def _fields(settings: BotSettings) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "properties": {"name": settings.bot_name, "workPosition": settings.bot_work_position},
        "eventMode": settings.bitrix_event_mode,
    }
    if settings.bitrix_event_mode == "webhook":
        fields["webhookUrl"] = v2_handler_url(settings)
    return fields


async def find_v2_bot(client: BitrixClient, settings: BotSettings) -> int | None:
    """The id of our v2 bot, by its code; None when the portal has none."""
    try:
        found = await client.call(
            "imbot.v2.Bot.get",
            {"code": settings.bitrix_v2_bot_code, "botToken": settings.bot_token},
        )
    except RejectedError as exc:
        if exc.code == "BOT_NOT_FOUND":
            return None
        raise
    return int(found["bot"]["id"])


async def register_v2(client: BitrixClient, settings: BotSettings) -> tuple[int, int, bool]:
    """Create or update the v2 bot and its hidden `rate` command: (bot id, command id, new)."""
    if settings.bitrix_v2_bot_code == settings.bitrix_bot_code:
        raise SettingsError(
            "invalid settings:\n  BITRIX_V2_BOT_CODE: must differ from BITRIX_BOT_CODE"
        )
    token = settings.bot_token
    bot_id = await find_v2_bot(client, settings)
    if bot_id is None:
        fields = {"code": settings.bitrix_v2_bot_code, "type": "bot", **_fields(settings)}
        # Open point 1: the token goes in fields (method page, SDK) and at the top (quick-start).
        fields["botToken"] = token
        answer = await client.call("imbot.v2.Bot.register", {"botToken": token, "fields": fields})
        bot_id = int(answer["bot"]["id"])
        created = True
    else:
        body = {"botId": bot_id, "botToken": token, "fields": _fields(settings)}
        await client.call("imbot.v2.Bot.update", body)
        created = False
    command = {
        "command": RATE_COMMAND,
        "hidden": True,
        "extranetSupport": True,
        "title": {"ru": "Оценить заявку", "en": "Rate the ticket"},
    }
    answer = await client.call(
        "imbot.v2.Command.register", {"botId": bot_id, "botToken": token, "fields": command}
    )
    return bot_id, int(answer["command"]["id"]), created


async def unregister_v2(client: BitrixClient, settings: BotSettings) -> int | None:
    """Remove the v2 bot; its id, or None when there was none."""
    bot_id = settings.bitrix_v2_bot_id or await find_v2_bot(client, settings)
    if bot_id is None:
        return None
    await client.call("imbot.v2.Bot.unregister", {"botId": bot_id, "botToken": settings.bot_token})
    return bot_id


async def run_v2(client: BitrixClient, settings: BotSettings, *, remove: bool) -> str:
    """Register or remove the v2 bot and say what happened, for the administrator."""
    if remove:
        removed = await unregister_v2(client, settings)
        if removed is None:
            return f"No imbot.v2 bot with code {settings.bitrix_v2_bot_code!r}: nothing to remove."
        return f"imbot.v2 bot {removed} removed. Delete BITRIX_V2_BOT_ID from .env."
    bot_id, command_id, created = await register_v2(client, settings)
    verb = "registered" if created else "already registered, updated"
    where = (
        "fetched by the service (imbot.v2.Event.get; no PUBLIC_URL needed)"
        if settings.bitrix_event_mode == "fetch"
        else f"posted to {settings.public_url}{V2_EVENTS_PATH}?token=***"
    )
    return (
        f"imbot.v2 bot {verb}: id {bot_id}, command '{RATE_COMMAND}' id {command_id}.\n"
        f"Events are {where}.\n"
        f"Put this in .env:\n  BITRIX_API=v2\n  BITRIX_EVENT_MODE={settings.bitrix_event_mode}\n"
        f"  BITRIX_V2_BOT_ID={bot_id}"
    )
