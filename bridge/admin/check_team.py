"""`check`'s line about the team's chat (ALERT_DIALOG_ID): whether the bot can write there.

Neither imbot nor imbot.v2 offers a bot a way to ask whether it may post to a dialog, so the
check posts a short message saying what will come there; Bitrix24's refusal (the bot is not a
member of the chat, or no such dialog) is the failure, with what to do.
"""

from __future__ import annotations

from bot.choice import messenger_for
from bot.client import BitrixClient
from bot.messenger import ChatMessage
from bot.texts.team import team_text
from bridge.config.settings import Settings
from outbound.errors import RejectedError


async def team_chat(settings: Settings, bitrix: BitrixClient) -> tuple[bool, str]:
    """Post the check message to ALERT_DIALOG_ID; ok with its id, or why not."""
    dialog, language = settings.alert_dialog_id, settings.language
    digest = team_text("check_digest", language) if settings.digest_at else ""
    message = ChatMessage(team_text("check", language, digest=digest))
    try:
        message_id = await messenger_for(settings, bitrix).send(dialog, message)
    except RejectedError as exc:
        return False, (
            f"the bot cannot write to {dialog} ({exc}): add the bot to that chat, "
            "or correct ALERT_DIALOG_ID (chat and its number, or a user id)"
        )
    return True, f"the bot posted a check message to {dialog} (message {message_id})"
