"""Register the rating bot in the portal, or update it: `python -m bot.register [--unregister]`;
change the events secret with `--rotate`, then `--rotate --bind` (steps below).

Running it again changes nothing and duplicates nothing: an existing bot with our CODE is
updated in place, and Bitrix24 answers `imbot.command.register` for a command the bot already
has with the existing command's id (Bitrix\\Im\\Command::register looks it up first), whose
flags are then set with `imbot.command.update`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import textwrap
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from bot import rotation
from bot.client import BitrixClient, webhook_client
from bot.settings import BotSettings, SettingsError, load_settings
from bot.texts.messages import RATE_COMMAND
from bot.v2.register_v2 import run_v2
from outbound.errors import DeliveryError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

EVENTS_PATH = "api/v1/bitrix/events"


@dataclass(frozen=True)
class Registration:
    """The outcome of a registration run."""

    bot_id: int
    command_id: int
    created: bool


def handler_url(settings: BotSettings) -> str:
    """Where Bitrix24 posts the bot's events: our public address plus the events token."""
    if not settings.public_url:
        raise SettingsError("invalid settings:\n  PUBLIC_URL: is required to register the bot")
    token = settings.bitrix_events_token.get_secret_value()
    return f"{settings.public_url}{EVENTS_PATH}?token={token}"


def _properties(settings: BotSettings) -> dict[str, str]:
    return {
        "NAME": settings.bot_name,
        "COLOR": settings.bot_color,
        "WORK_POSITION": settings.bot_work_position,
    }


# The `rate` command answers keyboard clicks only; extranet users (clients invited into the
# portal) raise no ONIMCOMMANDADD for a command without EXTRANET_SUPPORT=Y (bitrix24.md §7).
COMMAND_FLAGS = {"HIDDEN": "Y", "EXTRANET_SUPPORT": "Y"}
COMMAND_LANG = [
    {"LANGUAGE_ID": "ru", "TITLE": "Оценить заявку"},
    {"LANGUAGE_ID": "en", "TITLE": "Rate the ticket"},
]


async def register(
    client: BitrixClient, settings: BotSettings, *, url: str | None = None
) -> Registration:
    """Create the bot (or update the existing one) and its hidden `rate` command; `url`: the
    event handler when not the settings' (an added portal's own route)."""
    url = url or handler_url(settings)
    bot_id = await client.bot_id_by_code(settings.bitrix_bot_code)
    created = bot_id is None
    if bot_id is None:
        bot_id = int(
            await client.call(
                "imbot.register",
                {
                    "CODE": settings.bitrix_bot_code,
                    "TYPE": "B",
                    "CLIENT_ID": client.client_id,
                    "EVENT_HANDLER": url,
                    "PROPERTIES": _properties(settings),
                },
            )
        )
    else:
        await client.call(
            "imbot.update",
            {
                "BOT_ID": bot_id,
                "CLIENT_ID": client.client_id,
                "FIELDS": {"EVENT_HANDLER": url, "PROPERTIES": _properties(settings)},
            },
        )
    command_id = await register_command(client, bot_id, url, new_bot=created)
    return Registration(bot_id=bot_id, command_id=command_id, created=created)


async def register_command(client: BitrixClient, bot_id: int, url: str, *, new_bot: bool) -> int:
    """Register the `rate` command; on an existing bot, also set its flags.

    For a command the bot already has, `imbot.command.register` returns the old id and keeps
    the old flags (an older release registered it without EXTRANET_SUPPORT), so they are set
    again with `imbot.command.update`.
    """
    command_id = int(
        await client.call(
            "imbot.command.register",
            {
                "BOT_ID": bot_id,
                "CLIENT_ID": client.client_id,
                "COMMAND": RATE_COMMAND,
                **COMMAND_FLAGS,
                "COMMON": "N",
                "EVENT_COMMAND_ADD": url,
                "LANG": COMMAND_LANG,
            },
        )
    )
    if not new_bot:
        await client.call(
            "imbot.command.update",
            {
                "COMMAND_ID": command_id,
                "CLIENT_ID": client.client_id,
                # The handler too: a new events token (--rotate --bind) must reach ONIMCOMMANDADD.
                "FIELDS": {**COMMAND_FLAGS, "LANG": COMMAND_LANG, "EVENT_COMMAND_ADD": url},
            },
        )
    return command_id


async def unregister(client: BitrixClient, settings: BotSettings) -> int | None:
    """Remove the bot (with its chats and commands); the removed bot's id, if there was one."""
    bot_id = settings.bitrix_bot_id or await client.bot_id_by_code(settings.bitrix_bot_code)
    if bot_id is None:
        return None
    await client.call("imbot.unregister", {"BOT_ID": bot_id, "CLIENT_ID": client.client_id})
    return bot_id


async def with_retries(action: Callable[[], Awaitable[T]]) -> T:
    """`action()`, tried again on a TransientError (a busy portal, 503 QUERY_LIMIT_EXCEEDED,
    an answer that never came) up to five times in all, waiting at random up to 10 s between:
    a short retry beats asking the administrator to. `action` must be safe to repeat."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(TransientError),
        wait=wait_random_exponential(multiplier=1, max=10),
        stop=stop_after_attempt(5),
        reraise=True,
    ):
        with attempt:
            return await action()
    raise AssertionError("unreachable: tenacity reraises the last attempt's error")


async def run(settings: BotSettings, *, remove: bool, http: httpx.AsyncClient) -> str:
    """Register or remove the bot and say what happened, for the administrator."""
    client = webhook_client(http, settings)
    if settings.bitrix_api == "v2":
        done_v2: str = await with_retries(lambda: run_v2(client, settings, remove=remove))
        return done_v2
    if remove:
        removed = await with_retries(lambda: unregister(client, settings))
        if removed is None:
            return (
                f"No bot with code {settings.bitrix_bot_code!r} in the portal: nothing to remove."
            )
        return f"Bot {removed} removed. Delete BITRIX_BOT_ID from .env."
    done: Registration = await with_retries(lambda: register(client, settings))
    verb = "registered" if done.created else "already registered, updated"
    return (
        f"Bot {verb}: BOT_ID={done.bot_id}, command '{RATE_COMMAND}' id {done.command_id}.\n"
        f"Events go to {settings.public_url}{EVENTS_PATH}?token=***\n"
        f"Put this in .env:\n  BITRIX_BOT_ID={done.bot_id}"
    )


def _parser() -> argparse.ArgumentParser:
    required = [n.upper() for n, f in BotSettings.model_fields.items() if f.is_required()]
    epilog = (
        "settings: from the environment or ./.env (each one explained in example.env); "
        f"required: {', '.join(required)}; PUBLIC_URL with BITRIX_API=v1 or "
        "BITRIX_EVENT_MODE=webhook; BITRIX_BOT_TOKEN with BITRIX_API=v2. Prints: the bot's id "
        "and the lines to put in .env; with --rotate, the lines BITRIX_EVENTS_TOKEN=<new> and "
        "BITRIX_EVENTS_TOKEN_PREVIOUS=<old> (nothing is sent to the portal); with --rotate "
        "--bind, that the handlers now carry the new token (v2 fetch mode: nothing to rebind)."
    )
    parser = argparse.ArgumentParser(
        prog="python -m bot.register",
        description=f"{__doc__}\nRotating the events secret:\n\n{rotation.STEPS}",
        epilog=textwrap.fill(epilog, 95),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--unregister", action="store_true", help="remove the bot instead")
    parser.add_argument(
        "--rotate", action="store_true", help="print a new events token (step 1 below)"
    )
    parser.add_argument(
        "--bind", action="store_true", help="with --rotate: rebind the handlers (step 3)"
    )
    return parser


def _load(args: argparse.Namespace) -> BotSettings:
    settings = load_settings(BotSettings)
    if settings.bitrix_api == "v1":
        handler_url(settings)
    if settings.placeholders():
        raise SettingsError(
            f"{', '.join(settings.placeholders())} still hold the example values of example.env: "
            "set them in .env first"
        )
    if args.bind:
        rotation.check_bind(settings)
    return settings


async def _act(settings: BotSettings, args: argparse.Namespace) -> str:
    if args.rotate and not args.bind:
        return rotation.start(settings, rotation.new_events_token())
    if args.bind and (skipped := rotation.nothing_to_bind(settings)):
        return skipped
    async with httpx.AsyncClient(timeout=30) as http:
        done = await run(settings, remove=args.unregister, http=http)
    return f"{done}\n{rotation.finish()}" if args.bind else done


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.bind and not args.rotate) or (args.rotate and args.unregister):
        parser.error("--bind goes with --rotate, and --rotate not with --unregister")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    try:
        settings = _load(args)
        sys.stdout.write(asyncio.run(_act(settings, args)) + "\n")
    except TransientError as exc:
        sys.stderr.write(f"Bitrix24 did not answer (unreachable or busy): {exc}\n")
        return 1
    except DeliveryError as exc:
        sys.stderr.write(f"Bitrix24 refused: {exc}\n")
        return 1
    except SettingsError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
