"""`check`: the configuration against both vendors, one line per check, with what to fix.

Nothing printed names a secret: the vendors' errors are scrubbed by their clients, and every
line goes through `Context.say`, which masks each secret value (the webhook's code too).

Scopes: the service calls `imbot.*` (scope `imbot`) and `user.get` to find people by e-mail
(scope `user`; `user_basic` also serves, bitrix24.md §6). It calls no `im.*` method, and
`profile` needs no scope, so `im` is not required.

The command: imbot (v1) has no method that lists a bot's commands, so the check registers the
`rate` command again exactly as `python -m bot.register` does. That is idempotent: Bitrix24
answers an existing command's id and rebinds the same handler URL; a command that was missing
is registered (the line says so).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from bot.client import BitrixClient, webhook_client
from bot.messenger import register_step
from bot.register import handler_url, register_command
from bot.settings import SettingsError
from bot.texts.messages import RATE_COMMAND
from bot.users import NEEDED_SCOPES, owner_is_admin
from bridge.admin.check_events import events_carry, set_aside_said
from bridge.admin.check_team import team_chat
from bridge.admin.check_v2 import v2_bot, v2_command
from bridge.admin.context import Context, Exit
from bridge.config.durations import spoken
from bridge.config.settings import Settings
from bridge.okdesk.client import OkdeskClient, TokenRefusedError
from outbound.errors import DeliveryError
from storage import status
from storage.db import transaction
from storage.status import StatusKey


@dataclass(frozen=True)
class Finding:
    """One check's verdict: what was checked, whether it passed, and what it saw or the fix."""

    name: str
    ok: bool
    detail: str


async def run_checks(ctx: Context) -> Exit:
    """Run every check, print one line each; FAILED when any failed."""
    async with ctx.http() as http, ctx.wire() as wire:
        settings = ctx.settings
        okdesk = OkdeskClient(
            wire,
            settings.okdesk_url,
            settings.okdesk_api_token.get_secret_value(),
            timeout=settings.http_timeout.total_seconds(),
        )
        # A handful of calls: the portal's shared budget (burst 50) needs no accounting here.
        v2 = settings.bitrix_api == "v2"
        bitrix = webhook_client(http, settings)
        bot = (lambda: v2_bot(settings, bitrix)) if v2 else (lambda: _bot(ctx, bitrix))
        command = (lambda: v2_command(settings, bitrix)) if v2 else (lambda: _command(ctx, bitrix))
        findings = [
            await _guarded("okdesk token", lambda: _okdesk_token(okdesk)),
            await _guarded("bitrix24 scopes", lambda: _scopes(bitrix)),
            await _guarded("bitrix24 webhook owner", lambda: _owner(ctx, bitrix)),
            await _guarded("bitrix24 bot", bot),
            await _guarded(f"command {RATE_COMMAND!r}", command),
            await _guarded("public url", lambda: _public_url(ctx, http)),
            await _guarded("bitrix24 events", lambda: events_carry(ctx)),
        ]
        if settings.alert_dialog_id:
            findings.append(await _guarded("team chat", lambda: team_chat(settings, bitrix)))
    for finding in findings:
        ctx.say(f"{'ok  ' if finding.ok else 'FAIL'}  {finding.name}: {finding.detail}")
    ctx.say(f"info  default rating: {default_rating_said(settings)}")
    ctx.say(f"info  fetched events: {await set_aside_said(ctx)}")
    return Exit.OK if all(f.ok for f in findings) else Exit.FAILED


def default_rating_said(settings: Settings) -> str:
    """What happens to a survey nobody answers, in one line."""
    if settings.default_rating is None:
        return "off: a survey nobody answers ends without a rating"
    okdesk = settings.rating_map[settings.default_rating]
    after = (
        f"{settings.default_rating} ({okdesk} in Okdesk, marked automatic) after "
        f"{spoken(settings.rating_timeout)} without an answer"
    )
    unasked = "also" if settings.default_rating_when_undeliverable else "not"
    return f"{after}; tickets whose person could not be asked are {unasked} rated"


async def _guarded(name: str, check: Callable[[], Awaitable[tuple[bool, str]]]) -> Finding:
    """Run one check; a vendor's refusal or silence is its failure, never a crash."""
    try:
        ok, detail = await check()
    except TokenRefusedError:
        ok, detail = False, "Okdesk refused the token: OKDESK_API_TOKEN is wrong (or revoked)"
    except DeliveryError as exc:
        ok, detail = False, str(exc)
    except SettingsError as exc:
        ok, detail = False, str(exc).replace("invalid settings:\n", "").strip()
    return Finding(name, ok, detail)


async def _okdesk_token(okdesk: OkdeskClient) -> tuple[bool, str]:
    codes = await okdesk.status_codes()
    return True, f"Okdesk accepts the token ({len(codes)} ticket statuses)"


async def _scopes(bitrix: BitrixClient) -> tuple[bool, str]:
    given = set(await bitrix.scopes())
    missing = [name for name, serve in NEEDED_SCOPES.items() if not given & set(serve)]
    if missing:
        return False, (
            f"the webhook lacks {', '.join(missing)}: edit the incoming webhook in Bitrix24 "
            f"(Developer resources) and add {' and '.join(missing)}, then keep its URL"
        )
    return True, "the webhook has " + ", ".join(sorted(given & {"imbot", "user", "user_basic"}))


async def _owner(ctx: Context, bitrix: BitrixClient) -> tuple[bool, str]:
    admin = owner_is_admin(await bitrix.call("profile", {}))
    # Kept for /readyz, which never calls Bitrix24 itself.
    value = "administrator" if admin else "not_administrator"
    with transaction(ctx.engine) as session:
        status.set_status(session, key=StatusKey.WEBHOOK_OWNER, value=value, now=ctx.clock())
    if admin:
        return True, "a portal administrator: extranet users are found (ADMIN_MODE)"
    return False, (
        "the incoming webhook's owner is not a portal administrator: extranet users (clients "
        "invited into the portal) outside the owner's groups are not found and get no "
        "invitation; create the webhook as an administrator or a system user and set "
        "BITRIX_WEBHOOK_URL"
    )


async def _bot(ctx: Context, bitrix: BitrixClient) -> tuple[bool, str]:
    code = ctx.settings.bitrix_bot_code
    found = await bitrix.bot_id_by_code(code)
    if found is None:
        return False, f"no bot with code {code!r}: run {register_step()}"
    configured = ctx.settings.bitrix_bot_id
    if configured is not None and configured != found:
        return False, f"BITRIX_BOT_ID is {configured} but the portal's bot is {found}: fix .env"
    return True, f"bot {found} with code {code!r}"


async def _command(ctx: Context, bitrix: BitrixClient) -> tuple[bool, str]:
    bot_id = await bitrix.bot_id_by_code(ctx.settings.bitrix_bot_code)
    if bot_id is None:
        return False, f"no bot, so no command: run {register_step()}"
    url = handler_url(ctx.settings)
    command_id = await register_command(bitrix, bot_id, url, new_bot=False)
    return True, f"command id {command_id} (registered again, idempotently)"


async def _public_url(ctx: Context, http: httpx.AsyncClient) -> tuple[bool, str]:
    base = ctx.settings.public_url
    if not base and ctx.settings.fetches_events:
        return True, "not needed: imbot.v2 events are fetched (BITRIX_EVENT_MODE=fetch)"
    if not base:
        return False, "PUBLIC_URL is not set: Bitrix24 cannot reach the bot's events"
    where = f"{base}healthz"
    try:
        response = await http.get(where)
    except httpx.HTTPError as exc:
        return False, f"GET {where} got no answer ({type(exc).__name__}): is the service public?"
    if response.status_code != httpx.codes.OK:
        return False, f"GET {where} answered HTTP {response.status_code}, not 200"
    return True, f"GET {where} answered 200"
