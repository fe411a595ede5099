"""Changing the events secret with no event lost (`python -m bot.register --rotate`).

The bot's handler URLs carry BITRIX_EVENTS_TOKEN, and Bitrix24 posts each event once ("No
retries", bitrix24.md §5): the portal must never post to a URL the running service refuses.
So the service learns the new secret before the portal does, and forgets the old one after:

1. `--rotate` prints a new random token, and the current one as BITRIX_EVENTS_TOKEN_PREVIOUS;
   it does not touch the portal, which still posts with the current token.
2. The operator puts both lines in .env and restarts the service: it accepts both tokens.
3. `--rotate --bind` rebinds the bot's handlers to the URL with the new token.
4. The operator deletes BITRIX_EVENTS_TOKEN_PREVIOUS from .env and restarts: the old URL is dead.
"""

from __future__ import annotations

import secrets

from bot.settings import BotSettings, SettingsError

STEPS = __doc__.split("\n\n", 1)[1] if __doc__ else ""


def new_events_token() -> str:
    """A fresh events secret: 43 characters of A-Z, a-z, 0-9, '-' and '_' (URL-safe, §7)."""
    return secrets.token_urlsafe(32)


def start(settings: BotSettings, new_token: str) -> str:
    """Step 1: the two lines for .env and what to do next; the portal is not called."""
    if settings.bitrix_events_token_previous is not None:
        raise SettingsError(
            "a rotation is under way (BITRIX_EVENTS_TOKEN_PREVIOUS is set): finish it with "
            "`python -m bot.register --rotate --bind`, then delete BITRIX_EVENTS_TOKEN_PREVIOUS "
            "from .env and restart the service"
        )
    old = settings.bitrix_events_token.get_secret_value()
    return (
        "Put these two lines in .env (replacing BITRIX_EVENTS_TOKEN):\n"
        f"BITRIX_EVENTS_TOKEN={new_token}\n"
        f"BITRIX_EVENTS_TOKEN_PREVIOUS={old}\n"
        "Then restart the service (it accepts both tokens) and run "
        "`python -m bot.register --rotate --bind` to move the bot's handlers to the new token."
    )


def check_bind(settings: BotSettings) -> None:
    """Step 3 only once step 2 is done: the service must already accept the new token."""
    if settings.bitrix_events_token_previous is None:
        raise SettingsError(
            "BITRIX_EVENTS_TOKEN_PREVIOUS is not set: run `python -m bot.register --rotate` "
            "first, put the two lines it prints in .env and restart the service"
        )


def nothing_to_bind(settings: BotSettings) -> str | None:
    """What to say instead of binding when no handler URL carries the token (v2 fetch mode)."""
    if not settings.fetches_events:
        return None
    also = (
        " The v1 bot's handler (BITRIX_SWITCHING_FROM_V1) still carries the old token: keep "
        "BITRIX_EVENTS_TOKEN_PREVIOUS until the switch from v1 is over."
        if settings.bitrix_switching_from_v1
        else ""
    )
    return (
        "Nothing to rebind: in imbot.v2 fetch mode the service fetches events and the bot has "
        f"no handler URL.{also}\n{finish()}"
    )


def finish() -> str:
    """Step 4, said after the handlers are rebound."""
    return (
        "The bot's handlers now carry the new token. Delete BITRIX_EVENTS_TOKEN_PREVIOUS from "
        ".env and restart the service: the old handler URL is then refused."
    )
