"""Adding and removing a portal: connect a client's Bitrix24 portal through the incoming
webhook its administrator made, or disconnect it.

Adding checks the webhook (its scopes, an administrator owner), registers the bot there and
stores the portal with its secrets sealed under SECRETS_KEY. An imbot v1 bot gets a handler URL
of the portal's own (`/api/v1/bitrix/portals/<route key>/events`); an imbot.v2 bot fetches its
events (fetch mode: no handler URL, no PUBLIC_URL needed), with a bot token of its own. Adding
it again keeps its CLIENT_ID or bot token, events secret and route key, so the same bot is
updated in place, and reseals under the current key. `member_id` pins the portal's
installation (else its first genuine event does: `bridge.web.installation`).

Both answer what was done, or raise `PortalError` with the one line that says why not; the
command and the /admin page each say it their way.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine

from bot.client import webhook_client
from bot.register import register, unregister, with_retries
from bot.settings import SettingsError, check_base_url
from bot.users import NEEDED_SCOPES, owner_is_admin
from bot.v2.register_v2 import register_v2, unregister_v2
from bridge.config.sealed import SealedSecretError, SecretBox, mask
from bridge.config.settings import Settings
from bridge.outside.portals import context, opened
from bridge.portals.texts import PortalError
from bridge.rules import workflow
from outbound.errors import DeliveryError
from storage import portals
from storage.db import transaction
from storage.portals import DEFAULT, Portal, PortalState
from storage.survey import surveys

NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
# A portal's member_id: Bitrix24's are 32 hex digits; the column holds 64.
MEMBER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
PORTAL_EVENTS = "api/v1/bitrix/portals/{key}/events"
REMOVED_REASON = "the portal was removed"


@dataclass(frozen=True)
class Added:
    """What `add` registered: the stored portal, its bot, and where its events come."""

    portal: Portal
    bot_id: int
    client_id: str  # masked
    events_url: str  # without its secret ("" when the bot fetches its events: imbot.v2)
    key_id: str
    bot_token: str = ""  # masked (imbot.v2 only)


@dataclass(frozen=True)
class Removed:
    """What `remove` did: the bot unregistered (or why not), the surveys cancelled."""

    bot_id: int | None
    unregister_failed: str | None
    cancelled: int


def _checked(
    settings: Settings, name: str, url: str, api: str, member_id: str | None
) -> tuple[SecretBox, str]:
    box = settings.secret_box()
    if box is None:
        raise PortalError("no_secrets_key", usage=True)
    if name == DEFAULT:
        raise PortalError("default_name", usage=True)
    if not NAME.fullmatch(name):
        raise PortalError("bad_name", usage=True)
    try:
        url = check_base_url(url, "WEBHOOK_URL")
    except ValueError:
        raise PortalError("bad_url", usage=True) from None
    if "/rest/" not in urlsplit(url).path:
        raise PortalError("not_rest", usage=True)
    if api not in ("v1", "v2"):
        raise PortalError("bad_api", usage=True)
    if member_id is not None and not MEMBER_ID.fullmatch(member_id):
        raise PortalError("bad_member_id", usage=True)
    if api == "v1" and not settings.public_url:
        # imbot.v2's bot fetches its events: nothing needs to reach us.
        raise PortalError("no_public_url", usage=True)
    return box, url


async def add(
    engine: Engine,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    name: str,
    url: str,
    api: str,
    clock: Callable[[], datetime],
    member_id: str | None = None,
) -> Added:
    """Check the webhook, register the bot, store the portal; what was registered."""
    try:
        box, url = _checked(settings, name, url, api, member_id)
        portal, stored = _prepared(engine, settings, box, name=name, url=url, api=api, now=clock())
        if member_id is not None:
            portal.member_id = member_id
        view = opened(portal, settings)
        bot_id = await _bot_of(engine, http, view.settings, portal, stored=stored, clock=clock)
    except SealedSecretError as exc:
        raise PortalError("unreadable", detail=str(exc)) from None
    except SettingsError as exc:
        raise PortalError("bad_settings", detail=str(exc)) from None
    except DeliveryError as exc:
        raise PortalError("vendor_refused", detail=str(exc)) from None
    portal.bot_id, portal.state = bot_id, PortalState.ACTIVE
    with transaction(engine) as session:
        portals.save_portal(session, portal, now=clock())
    v2 = api == "v2"
    events = "" if v2 else f"{settings.public_url}{PORTAL_EVENTS.format(key=portal.route_key)}"
    return Added(
        portal=portal,
        bot_id=bot_id,
        client_id=mask(view.settings.bitrix_client_id.get_secret_value()),
        events_url=events,
        key_id=box.current_id,
        bot_token=mask(view.settings.bot_token) if v2 else "",
    )


def _prepared(
    engine: Engine,
    settings: Settings,
    box: SecretBox,
    *,
    name: str,
    url: str,
    api: str,
    now: datetime,
) -> tuple[Portal, bool]:
    """The portal's row, with this webhook: the stored one (its secrets kept) or a new one; and
    whether it was stored."""
    with transaction(engine) as session:
        row = portals.portal_named(session, name=name)
        number = row.id if row is not None else portals.next_number(session)
    if row is not None and row.state != PortalState.REMOVED and row.api != api:
        # Its bot of the other API would stay registered, answering nobody.
        raise PortalError("other_api", usage=True, name=name, api=row.api)
    stored = row is not None
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
    return _sealed(row, settings, box, url=url, api=api), stored


async def _bot_of(
    engine: Engine,
    http: httpx.AsyncClient,
    settings: Settings,
    portal: Portal,
    *,
    stored: bool,
    clock: Callable[[], datetime],
) -> int:
    """The portal's bot, registered with a busy portal asked again; a new portal refused on
    the way is kept with its keys (`_keep_keys`)."""
    try:
        return await with_retries(lambda: _registered(http, settings, portal.route_key or ""))
    except DeliveryError:
        if not stored:
            _keep_keys(engine, portal, now=clock())
        raise


def _keep_keys(engine: Engine, portal: Portal, *, now: datetime) -> None:
    """A new portal (no bot id yet) whose bot Bitrix24 refused, kept with its keys but not
    connected (removed): the bot may be registered already under its CLIENT_ID or bot token,
    which the same command again reuses to update that bot; a fresh token would meet
    BOT_OWNERSHIP_ERROR."""
    portal.state = PortalState.REMOVED
    with transaction(engine) as session:
        portals.save_portal(session, portal, now=now)


def _sealed(row: Portal, settings: Settings, box: SecretBox, *, url: str, api: str) -> Portal:
    """The row with this webhook and the bot's secrets (kept when stored), sealed."""
    name = row.name
    kept = opened(row, settings).settings if row.client_id else None
    client_id = kept.bitrix_client_id.get_secret_value() if kept else f"okr-{secrets.token_hex(8)}"
    events = kept.bitrix_events_token.get_secret_value() if kept else secrets.token_urlsafe(24)
    row.domain = (urlsplit(url).hostname or "").lower()
    row.webhook_url = box.seal(url, context=context(name, "webhook_url"))
    row.client_id = box.seal(client_id, context=context(name, "client_id"))
    row.events_token = box.seal(events, context=context(name, "events_token"))
    row.api = api
    row.bot_code = settings.bitrix_bot_code
    if api == "v2":
        # The v2 bot's token: 40 characters at most (BOT_TOKEN_INVALID_LENGTH, v2 §1).
        token = kept.bot_token if kept and kept.bot_token else secrets.token_hex(20)
        row.bot_token = box.seal(token, context=context(name, "bot_token"))
        row.bot_code = settings.bitrix_v2_bot_code
    return row


async def _registered(http: httpx.AsyncClient, settings: Settings, route_key: str) -> int:
    """The webhook checked, then the bot registered (or updated): v1's with the portal's
    handler, v2's fetching its events."""
    v2 = settings.bitrix_api == "v2"
    # imbot.v2's 2 requests a second (v2 §6): registration's calls are paced.
    client = webhook_client(http, settings)
    given = set(await client.scopes())
    missing = [n for n, serve in NEEDED_SCOPES.items() if not given & set(serve)]
    if missing:
        raise PortalError("lacks_scope", scopes=", ".join(missing))
    if not owner_is_admin(await client.call("profile", {})):
        raise PortalError("not_admin")
    if v2:
        return (await register_v2(client, settings))[0]
    token = settings.bitrix_events_token.get_secret_value()
    url = f"{settings.public_url}{PORTAL_EVENTS.format(key=route_key)}?token={token}"
    return (await register(client, settings, url=url)).bot_id


async def remove(
    engine: Engine,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    name: str,
    clock: Callable[[], datetime],
) -> Removed:
    """Unregister the portal's bot, cancel its waiting surveys, mark it removed (history kept)."""
    with transaction(engine) as session:
        row = portals.portal_named(session, name=name)
    if row is None or row.state == PortalState.REMOVED:
        raise PortalError("no_portal", name=name)
    bot_id, failed = None, None
    try:
        bot_id = await with_retries(lambda: _unregistered(http, opened(row, settings).settings))
    except (SealedSecretError, DeliveryError) as exc:
        failed = str(exc)
    now = clock()
    with transaction(engine) as session:
        cancelled = 0
        for survey_id in portals.waiting_survey_ids(session, number=row.id):
            # The bot and its chats are gone with it: no buttons are left to take away.
            withdrawn = workflow.withdrawn(survey_id, now=now, reason=REMOVED_REASON)
            cancelled += surveys.apply_change(session, replace(withdrawn, jobs=()), now=now)
        portals.set_state(session, number=row.id, state=PortalState.REMOVED, now=now)
    return Removed(bot_id=bot_id, unregister_failed=failed, cancelled=cancelled)


async def _unregistered(http: httpx.AsyncClient, settings: Settings) -> int | None:
    """The portal's bot removed from it (with its chats); its id, if it had one."""
    v2 = settings.bitrix_api == "v2"
    client = webhook_client(http, settings)
    return await (unregister_v2 if v2 else unregister)(client, settings)
