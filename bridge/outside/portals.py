"""The portals as the service reaches them: each one's settings (its credentials opened), the
settings' own portal stored as `default`, and which portal a closure's company goes to.

A portal's credentials live behind this one door: a webhook now (its URL, the bot's CLIENT_ID
or token, the events secret, sealed in the `portal` row), an installed application later.
Everything else sees a portal as the service's `Settings` with that portal's Bitrix24 side,
so the code that spoke to the one portal speaks to each.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bridge.config.logs import also_mask
from bridge.config.sealed import SealedSecretError
from bridge.config.settings import Settings
from storage import portals, status
from storage.db import transaction
from storage.portals import DEFAULT, DEFAULT_NUMBER, Portal, PortalState

log = logging.getLogger(__name__)
# A company (None: the closure named none) → its portal's number, or why it has none.
Routes = dict[int | None, int | str]

# What an unrouted closure's survey says, in the operator's list of undeliverable ones.
NOT_CONNECTED = "company not connected to a portal"
PORTAL_REMOVED = "the company's portal was removed"
# How long a portal read from the database is believed (an added or removed portal is seen
# by a running service within this time).
REFRESH_SECONDS = 10.0
MISS_REREAD_SECONDS = 1.0


@dataclass(frozen=True)
class PortalView:
    """One portal as the service uses it: the settings of its Bitrix24 side, opened."""

    number: int
    name: str
    state: PortalState
    route_key: str | None
    settings: Settings


def default_values(settings: Settings) -> dict[str, object]:
    """What the `default` row records of the settings' portal (never a secret)."""
    v2 = settings.bitrix_api == "v2"
    return {
        "domain": settings.portal_domain,
        "member_id": settings.bitrix_member_id,
        "api": settings.bitrix_api,
        "bot_code": settings.bitrix_v2_bot_code if v2 else settings.bitrix_bot_code,
        "bot_id": settings.bitrix_v2_bot_id if v2 else settings.bitrix_bot_id,
    }


def ensure_default(engine: Engine, settings: Settings, now: datetime) -> None:
    """The settings' portal is the row `default` (added at the first start of this release;
    kept in step with the settings; never brought back once removed), and an older release's
    "bot deleted" or "portal blocked" becomes its state."""
    with transaction(engine) as session:
        values = default_values(settings)
        if portals.add_default(session, values=values, now=now):
            log.info("portal.default_stored domain=%s", settings.portal_domain)
        else:
            row = portals.portal_named(session, name=DEFAULT, lock=True)
            if row is not None and row.webhook_url is None and row.state != PortalState.REMOVED:
                changed = {k: v for k, v in values.items() if getattr(row, k) != v}
                if changed:
                    for key, value in changed.items():
                        setattr(row, key, value)
                    portals.save_portal(session, row, now=now)
        for flag in status.adopt_service_flags(session, now=now):
            log.info("portal.default_state_adopted flag=%s", flag)


def opened(portal: Portal, settings: Settings) -> PortalView:
    """The portal's view: its sealed secrets opened (the settings' own for `default`)."""
    state, key = PortalState(portal.state), portal.route_key
    if portal.webhook_url is None:
        return PortalView(portal.id, portal.name, state, key, settings)
    box = settings.secret_box()
    if box is None:
        raise SealedSecretError(f"portal {portal.name}: SECRETS_KEY is not set")

    def secret(column: str) -> SecretStr | None:
        value = getattr(portal, column)
        if value is None:
            return None
        return SecretStr(box.open(value, context=context(portal.name, column)))

    v2 = portal.api == "v2"
    update = {
        "bitrix_webhook_url": secret("webhook_url").get_secret_value(),  # type: ignore[union-attr]
        "bitrix_client_id": secret("client_id"),
        "bitrix_events_token": secret("events_token"),
        "bitrix_events_token_previous": None,
        "bitrix_application_token": None,
        "bitrix_bot_token": secret("bot_token"),
        "bitrix_api": portal.api,
        "bitrix_member_id": portal.member_id,
        "bitrix_v2_bot_code" if v2 else "bitrix_bot_code": portal.bot_code,
        "bitrix_v2_bot_id" if v2 else "bitrix_bot_id": portal.bot_id,
        "bitrix_switching_from_v1": False,
        # An added portal's v2 bot fetches its events (`portal add`): no handler URL to guard.
        "bitrix_event_mode": "fetch",
    }
    return PortalView(portal.id, portal.name, state, key, settings.model_copy(update=update))


def renamed(engine: Engine, settings: Settings, old: str, new: str, now: datetime) -> None:
    """A portal answered from a new domain (`bridge.outside.renamed`): an added portal's stored
    domain and webhook follow it; the settings' own portal's webhook is the operator's to
    change (BITRIX_WEBHOOK_URL), until then each process is redirected once."""
    box = settings.secret_box()
    with transaction(engine) as session:
        for row in portals.all_portals(session):
            if row.domain != old or row.state == PortalState.REMOVED:
                continue
            if row.webhook_url is None or box is None:
                log.warning("portal.renamed portal=%s to=%s: set BITRIX_WEBHOOK_URL", row.name, new)
                continue
            where = context(row.name, "webhook_url")
            url = urlsplit(box.open(row.webhook_url, context=where))._replace(netloc=new)
            row.webhook_url = box.seal(url.geturl(), context=where)
            row.domain = new
            portals.save_portal(session, row, now=now)
            log.warning("portal.renamed portal=%s to=%s: its webhook follows", row.name, new)


def context(name: str, column: str) -> str:
    """What a sealed value is bound to: its portal and its column."""
    return f"portal:{name}:{column}"


class PortalDirectory:
    """The portals, read from the database and believed for a few seconds."""

    def __init__(
        self, engine: Engine, settings: Settings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock
        self._read_at: float | None = None
        self._views: dict[int, PortalView] = {}

    def _fresh(self) -> dict[int, PortalView]:
        now = self._clock()
        if self._read_at is None or now - self._read_at > REFRESH_SECONDS:
            with transaction(self._engine) as session:
                rows = portals.all_portals(session)
            self._views = {}
            for row in rows:
                try:
                    self._views[row.id] = view = opened(row, self._settings)
                    also_mask(view.settings.secrets())
                except SealedSecretError as exc:
                    log.error("portal.unreadable portal=%s error=%s", row.name, exc)
            self._read_at = now
        return self._views

    def numbered(self, number: int) -> PortalView | None:
        """The portal with this number, unless removed or unknown."""
        view = self._fresh().get(number)
        return None if view is None or view.state == PortalState.REMOVED else view

    def by_route(self, route_key: str) -> PortalView | None:
        """The active portal whose event route has this key (a portal added a moment ago is
        found: an unknown key reads the portals again, at most once a second)."""
        found = self._routed(route_key)
        read_at = self._read_at or 0.0
        if found is None and self._clock() - read_at > MISS_REREAD_SECONDS:
            self._read_at = None
            found = self._routed(route_key)
        return found

    def _routed(self, route_key: str) -> PortalView | None:
        for view in self._fresh().values():
            if view.route_key == route_key and view.state != PortalState.REMOVED:
                return view
        return None

    def views(self) -> list[PortalView]:
        """Every portal that is not removed."""
        return [v for v in self._fresh().values() if v.state != PortalState.REMOVED]


def route_companies(session: Session, company_ids: Sequence[int | None]) -> Routes:
    """Company id → the portal its closures go to, or why none: the company's own portal, else
    `default`, else (once `default` is removed) "company not connected to a portal"."""
    mapped = portals.company_portals(session, company_ids=[c for c in company_ids if c])
    stored = portals.all_portals(session)
    live = {p.id for p in stored if p.state != PortalState.REMOVED}
    # The settings' portal is there until it is removed (before its row is stored, too).
    removed = {p.id for p in stored} - live
    fallback: int | str = NOT_CONNECTED if DEFAULT_NUMBER in removed else DEFAULT_NUMBER
    routes: Routes = {}
    for company in company_ids:
        number = None if company is None else mapped.get(company)
        if number is None:
            routes[company] = fallback
        else:
            routes[company] = number if number in live else PORTAL_REMOVED
    return routes
