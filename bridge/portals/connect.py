"""`portal add` and `portal remove`: connect a client's Bitrix24 portal through the incoming
webhook its administrator made, or disconnect it.

Adding checks the webhook (its scopes, an administrator owner), registers the bot there with a
handler URL of the portal's own (`/api/v1/bitrix/portals/<route key>/events`), and stores the
portal with its secrets sealed under SECRETS_KEY. Adding it again keeps its CLIENT_ID, events
secret and route key, so the same bot is updated in place, and reseals under the current key.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from urllib.parse import urlsplit

from bot.client import BitrixClient
from bot.register import register, unregister
from bot.settings import SettingsError, check_base_url
from bot.users import owner_is_admin
from bridge.admin.check import NEEDED_SCOPES
from bridge.admin.context import Context, Exit
from bridge.config.sealed import SealedSecretError, SecretBox, mask
from bridge.config.settings import Settings
from bridge.outside.portals import context, opened
from bridge.rules import workflow
from outbound.errors import DeliveryError
from storage import portals
from storage.db import transaction
from storage.portals import DEFAULT, Portal, PortalState
from storage.survey import surveys

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
PORTAL_EVENTS = "api/v1/bitrix/portals/{key}/events"
REMOVED_REASON = "the portal was removed (python -m bridge.admin portal remove)"


class RefusedError(Exception):
    """The command cannot go on as asked (usage, settings); the message says why, in one line."""


class CheckFailedError(RefusedError):
    """The webhook is not one a portal can be connected through; the message says why."""


def _checked(ctx: Context, name: str, url: str) -> tuple[SecretBox, str]:
    box = ctx.settings.secret_box()
    if box is None:
        raise RefusedError(
            "SECRETS_KEY is not set: it seals the portals' webhooks (README, Settings)"
        )
    if name == DEFAULT:
        raise RefusedError(
            "`default` is the portal of BITRIX_WEBHOOK_URL: change it in the settings"
        )
    if not NAME.fullmatch(name):
        raise RefusedError("NAME must be 1-40 of a-z 0-9 - _, starting with a letter or digit")
    try:
        url = check_base_url(url, "WEBHOOK_URL")
    except ValueError as exc:
        raise RefusedError(str(exc)) from None
    if "/rest/" not in urlsplit(url).path:
        raise RefusedError("WEBHOOK_URL must look like https://portal/rest/<user>/<code>/")
    if not ctx.settings.public_url:
        raise RefusedError("PUBLIC_URL is not set: Bitrix24 could not reach the portal's bot")
    return box, url


async def add(ctx: Context, name: str, url: str, api: str) -> Exit:
    """Check the webhook, register the bot, store the portal, and say what was registered."""
    try:
        if api != "v1":
            raise RefusedError("--api v2 is not available for added portals yet: use v1")
        box, url = _checked(ctx, name, url)
        portal = _prepared(ctx, box, name, url)
        view = opened(portal, ctx.settings)
        bot_id = await _registered(ctx, view.settings, portal.route_key or "")
    except (RefusedError, SealedSecretError, SettingsError) as exc:
        ctx.out.write(f"portal add: {exc}\n")
        usage = isinstance(exc, RefusedError) and not isinstance(exc, CheckFailedError)
        return Exit.USAGE if usage else Exit.FAILED
    except DeliveryError as exc:
        ctx.out.write(f"portal add: Bitrix24 said no: {exc}\n")
        return Exit.FAILED
    portal.bot_id, portal.state = bot_id, PortalState.ACTIVE
    with transaction(ctx.engine) as session:
        portals.save_portal(session, portal, now=ctx.clock())
    client_id = view.settings.bitrix_client_id.get_secret_value()
    ctx.say(f"portal {name}: number {portal.id}, domain {portal.domain}, API v1")
    ctx.say(f"bot {bot_id} with code {portal.bot_code!r}, CLIENT_ID {mask(client_id)}")
    ctx.say(f"events: {ctx.settings.public_url}{PORTAL_EVENTS.format(key=portal.route_key)}")
    ctx.say(f"secrets sealed with key {box.current_id}; map companies: portal map ID {name}")
    return Exit.OK


def _prepared(ctx: Context, box: SecretBox, name: str, url: str) -> Portal:
    """The portal's row: the stored one (its secrets kept) or a new one, with this webhook."""
    now = ctx.clock()
    with transaction(ctx.engine) as session:
        row = portals.portal_named(session, name=name)
        number = row.id if row is not None else portals.next_number(session)
    if row is None:
        row = Portal(
            id=number,
            name=name,
            domain="",
            api="v1",
            bot_code="okdesk_rating",
            state=PortalState.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        row.route_key = secrets.token_hex(8)
    kept = opened(row, ctx.settings).settings if row.client_id else None
    client_id = kept.bitrix_client_id.get_secret_value() if kept else f"okr-{secrets.token_hex(8)}"
    events = kept.bitrix_events_token.get_secret_value() if kept else secrets.token_urlsafe(24)
    row.domain = (urlsplit(url).hostname or "").lower()
    row.webhook_url = box.seal(url, context=context(name, "webhook_url"))
    row.client_id = box.seal(client_id, context=context(name, "client_id"))
    row.events_token = box.seal(events, context=context(name, "events_token"))
    row.bot_code = ctx.settings.bitrix_bot_code
    return row


async def _registered(ctx: Context, settings: Settings, route_key: str) -> int:
    """The webhook checked, then the bot registered (or updated) with the portal's handler."""
    async with ctx.http() as http:
        client = BitrixClient(
            http, settings.bitrix_webhook_url, settings.bitrix_client_id.get_secret_value()
        )
        given = set(await client.scopes())
        missing = [n for n, serve in NEEDED_SCOPES.items() if not given & set(serve)]
        if missing:
            raise CheckFailedError(
                f"the webhook lacks the scope {', '.join(missing)}: add it in Bitrix24"
            )
        if not owner_is_admin(await client.call("profile", {})):
            raise CheckFailedError("the webhook's owner is not a portal administrator")
        token = settings.bitrix_events_token.get_secret_value()
        url = f"{settings.public_url}{PORTAL_EVENTS.format(key=route_key)}?token={token}"
        return (await register(client, settings, url=url)).bot_id


async def remove(ctx: Context, name: str) -> Exit:
    """Unregister the portal's bot, cancel its waiting surveys, mark it removed (history kept)."""
    with transaction(ctx.engine) as session:
        row = portals.portal_named(session, name=name)
    if row is None or row.state == PortalState.REMOVED:
        ctx.out.write(f"portal remove: no portal named {name!r} (see portal list)\n")
        return Exit.FAILED
    try:
        bot = await _unregistered(ctx, row)
        said = f"bot {bot} unregistered" if bot is not None else "it had no bot"
    except (SealedSecretError, DeliveryError) as exc:
        said = f"the bot could not be unregistered ({exc}): remove it in Bitrix24"
    now = ctx.clock()
    with transaction(ctx.engine) as session:
        cancelled = 0
        for survey_id in portals.waiting_survey_ids(session, number=row.id):
            # The bot and its chats are gone with it: no buttons are left to take away.
            withdrawn = workflow.withdrawn(survey_id, now=now, reason=REMOVED_REASON)
            cancelled += surveys.apply_change(session, replace(withdrawn, jobs=()), now=now)
        portals.set_state(session, number=row.id, state=PortalState.REMOVED, now=now)
    ctx.say(f"portal {name} removed: {said}; {cancelled} waiting survey(s) cancelled")
    return Exit.OK


async def _unregistered(ctx: Context, row: Portal) -> int | None:
    """The portal's bot removed from it (with its chats); its id, if it had one."""
    settings = opened(row, ctx.settings).settings
    async with ctx.http() as http:
        client = BitrixClient(
            http, settings.bitrix_webhook_url, settings.bitrix_client_id.get_secret_value()
        )
        return await unregister(client, settings)
