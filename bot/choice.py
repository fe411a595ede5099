"""Which `Messenger` carries the bot: chosen from the settings (`BITRIX_API`), here in `bot`,
so that nothing outside it knows which API runs."""

from __future__ import annotations

from bot.client import BitrixClient
from bot.messenger import ImbotMessenger, Messenger, register_step
from bot.settings import BotSettings
from bot.v2.messenger_v2 import ImbotV2Messenger


def messenger_for(
    settings: BotSettings, client: BitrixClient, portal: str | None = None
) -> Messenger:
    """imbot v1 (`ImbotMessenger`) or imbot.v2 (`ImbotV2Messenger`), as configured; `portal`:
    an added portal's name (None: the settings' own), for what brings its bot back."""
    repair = register_step(portal, settings.bitrix_api)
    if settings.bitrix_api == "v2":
        return ImbotV2Messenger(
            client,
            settings.bitrix_v2_bot_code,
            settings.bot_token,
            settings.bitrix_v2_bot_id,
            in_batch=settings.bitrix_v2_in_batch,
            repair=repair,
        )
    return ImbotMessenger(client, settings.bitrix_bot_code, settings.bitrix_bot_id, repair=repair)
