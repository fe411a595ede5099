"""Which installation of our portal may send the bot events: its `auth[member_id]`, configured.

`bot.origin` already refused events from another portal (application token, domain); what
remains is the installation. It is never learned from an event: an invented `member_id` pinned
that way made every genuine event 403 for good. It comes from `BITRIX_MEMBER_ID`; no REST method
over an incoming webhook tells it (bitrix24.md; `app.info` is for OAuth applications), so
`python -m bridge.admin check` shows what the portal's events carry, for the operator to set.

It is a consistency check, not a secret (it travels in every event body). Not configured, any
`member_id` passes: the URL secret and the application token are what authenticate, and refusing
would lose every event until someone configured it. A configured one that an event does not
carry is recorded, so `/readyz` and `admin check` show the mismatch; the next event accepted
clears it (a forged one cannot hold readiness down while genuine events arrive).

An added portal's installation is pinned by `portal add --member-id`, or else by the first
event that passed every other check of that portal: its own route key and events secret, and
its bot's CLIENT_ID as the application token, which only Bitrix24 and we hold (the settings'
portal may run with none of them configured, hence no learning there). A later event naming
another installation is refused for that portal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.events import EventAuth
from bridge.outside.portals import PortalView
from bridge.web.intake import same_secret
from storage import portals, status
from storage.db import transaction
from storage.status import StatusKey

log = logging.getLogger(__name__)


class MemberCheck:
    """Events' `auth[member_id]` against `BITRIX_MEMBER_ID`, and what events carry (logged once)."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], configured: str | None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.member_id = configured
        # Unknown at start (another run may have recorded one): cleared by the first accepted.
        self._mismatch_stored = True
        self._keys_told = False

    def admits(self, auth: EventAuth, *, may_lack: bool = False) -> bool:
        """Whether the event is our installation's (may write the database, rarely).

        `may_lack`: an imbot.v2 webhook event may come without `member_id` (bitrix24.md §12);
        it is then accepted on the application token."""
        self._tell_keys(auth)
        if self.member_id is None or (not auth.member_id and may_lack):
            return True
        if auth.member_id and same_secret(auth.member_id, self.member_id):
            if self._mismatch_stored:
                self._store(lambda session, now: status.clear_status(session, key=MISMATCH))
                self._mismatch_stored = False
            return True
        seen = auth.member_id[:64] or "(none)"
        log.warning("bitrix.member_id_mismatch member_id=%s: check BITRIX_MEMBER_ID", seen)
        self._store(lambda s, now: status.set_status(s, key=MISMATCH, value=seen, now=now))
        self._mismatch_stored = True
        return False

    def _tell_keys(self, auth: EventAuth) -> None:
        """Once a process: which `auth` keys the portal's events carry, values masked."""
        if self._keys_told:
            return
        self._keys_told = True
        told = carried(auth)
        log.info("bitrix.event_auth %s", told)
        self._store(lambda s, now: status.set_status(s, key=AUTH_KEYS, value=told, now=now))

    def _store(self, change: Callable[..., None]) -> None:
        with transaction(self.engine) as session:
            change(session, self.clock())


def pinned_member(auth: EventAuth, member_id: str | None) -> bool:
    """Whether an added portal's event carries the `member_id` pinned for it (not pinned:
    any, as for the settings' portal; the route key, URL secret and application token are what
    authenticate)."""
    return member_id is None or (bool(auth.member_id) and same_secret(auth.member_id, member_id))


def admits_for_portal(engine: Engine, auth: EventAuth, portal: PortalView, now: datetime) -> bool:
    """Whether an added portal's event is of the installation pinned for it; the first event
    that passed every other check (its route key, events secret, application token and
    domain: what only Bitrix24 and we hold) pins its `member_id` when `portal add` was given
    none, so a later event naming another installation is refused."""
    pinned = portal.settings.bitrix_member_id
    if pinned is None and auth.member_id and len(auth.member_id) <= MEMBER_ID_LIMIT:
        with transaction(engine) as session:
            pinned = portals.pin_member(
                session, number=portal.number, member_id=auth.member_id, now=now
            )
        if pinned == auth.member_id:
            log.info("portal.member_id_pinned portal=%s member_id=%s", portal.name, pinned)
    admitted = pinned_member(auth, pinned)
    if not admitted:
        seen = auth.member_id[:64] or "(none)"
        log.warning("portal.member_id_mismatch portal=%s member_id=%s", portal.name, seen)
    return admitted


# The longest `member_id` pinned (the column's size; Bitrix24's are 32 hex digits).
MEMBER_ID_LIMIT = 64
MISMATCH = StatusKey.BITRIX_MEMBER_MISMATCH
AUTH_KEYS = StatusKey.BITRIX_EVENT_AUTH


def carried(auth: EventAuth) -> str:
    """The `auth` keys an event carried, with no token value (member_id is no secret)."""
    keys = ", ".join(auth.keys) or "none"
    return f"keys={keys} member_id={auth.member_id[:64] or '(none)'}"
