"""Fetching the imbot.v2 bot's events (`BITRIX_EVENT_MODE=fetch`): no public address needed,
and a click made while every replica is down waits on the portal (about 24 h) until we ask.

Each portal whose bot's events are fetched has a poller of its own (`bridge.web.pollers` starts
and stops them as portals come and go), with its own lease and offset, stored under the bot's id
scoped by the portal (`bot.portals.ids`): one portal's failing fetch never stops another's, and
a portal's events are read against that portal only. One replica polls a bot at a time (a
lease in the database: two pollers would acknowledge each other's events away,
bitrix24-v2.md §4). Each event is handled and committed on its own; only
then is the offset that covers it stored, and only a stored offset is ever passed to Bitrix24.
A crash in between replays the events, and a replay changes nothing: a fetched event is
remembered by its `eventId` (a click in the same transaction as its rating; a reply by its
message id), and the rest (a welcome, a deletion) is idempotent or throttled.

While `hasMore`, it polls again after `MORE_PAUSE` (the docs ask for "a minimum pause of two
seconds", bitrix24.md §13: it leaves invitations room in the 2 requests a second); otherwise
every `BITRIX_POLL_INTERVAL`. 429, 503 and network errors back off (jittered, doubling to
`RETRY_CAP`); `BOT_NOT_FOUND` means the bot was deleted, handled as v1's ONIMBOTDELETE.
Any other exception is logged and backed off the same way: the poller never dies. An event
whose handling fails the same way `SET_ASIDE_AFTER` times in a row is set aside (remembered as
seen, and listed for the operator by `python -m bridge.admin check`), so the events behind it
go on; a database outage is never blamed on an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from bot.events import BotDeleted, ChatReply
from bot.portals.ids import scoped
from bot.v2.events_v2 import FetchedEvent, replay_key
from bot.v2.messenger_v2 import BOT_NOT_FOUND, ImbotV2Messenger
from bridge.outside.portals import PortalView
from bridge.web import set_aside
from bridge.web.routes.bitrix import handle_event
from bridge.web.routes.state import App
from outbound.errors import DeliveryError, RejectedError, TransientError
from storage import polling, seen
from storage.db import transaction
from storage.tables import SeenEvent

log = logging.getLogger(__name__)
# The least pause before the next Event.get while Bitrix24 says `hasMore` (bitrix24.md §13).
MORE_PAUSE = 2.0


def no_checkpoint(_point: str) -> None:
    """Production: nothing happens between the steps (tests crash here)."""


class EventPoller:
    """Polls imbot.v2.Event.get for one portal's bot and hands each event to the events
    route's path, as that portal's (`portal`: an added one; None: the settings' own)."""

    def __init__(
        self,
        state: App,
        messenger: ImbotV2Messenger,
        *,
        checkpoint: Callable[[str], None] = no_checkpoint,
        portal: PortalView | None = None,
    ) -> None:
        self.state = state
        self.messenger = messenger
        self.portal = portal if portal is not None and portal.number != 0 else None
        self.number = self.portal.number if self.portal is not None else 0
        self.name = self.portal.name if self.portal is not None else "default"
        self.holder = secrets.token_hex(8)
        self.checkpoint = checkpoint
        self.failures = 0
        self.last_error: str | None = None
        self.strikes = set_aside.Strikes()
        self._bot: int | None = None

    @property
    def lease(self) -> timedelta:
        """How long the lease lasts unrenewed: a dead replica's runs out, a live one renews it
        every round (a round is one Event.get, bounded by HTTP_TIMEOUT, and its handling)."""
        settings = self.state.settings
        return max(settings.http_timeout * 2, settings.bitrix_poll_interval * 3)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set, then give the lease up."""
        while not stop.is_set():
            delay = await self._round()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        await asyncio.to_thread(self._release)

    async def _round(self) -> float:
        """One poll; the seconds to wait before the next."""
        interval = self.state.settings.bitrix_poll_interval.total_seconds()
        try:
            more = await self.poll_once()
        except TransientError as exc:
            return self._failed(exc, exc.retry_after)
        except RejectedError as exc:
            if exc.code == BOT_NOT_FOUND:
                await asyncio.to_thread(self._bot_deleted)
            return self._failed(exc, interval)
        except (DeliveryError, SQLAlchemyError) as exc:
            return self._failed(exc, None)
        except Exception as exc:
            # A bug, or an answer we could not read: logged with its trace, backed off, survived.
            log.error("bitrix.poll_crashed error=%s", type(exc).__name__, exc_info=exc)
            return self._failed(exc, None)
        self.failures, self.last_error = 0, None
        return MORE_PAUSE if more else interval

    def _failed(self, exc: Exception, at_least: float | None) -> float:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        settings = self.state.settings
        cap = settings.retry_cap.total_seconds()
        ceiling = min(cap, settings.retry_base.total_seconds() * 2 ** min(self.failures, 20))
        delay = max(random.uniform(ceiling / 2, ceiling), at_least or 0.0)
        log.warning(
            "bitrix.poll_failed portal=%s failures=%s retry_in=%.1fs error=%s",
            self.name,
            self.failures,
            delay,
            self.last_error,
        )
        return delay

    async def poll_once(self) -> bool:
        """Fetch once, handle what came, store the offset; whether more events wait."""
        # The lease, offset and replay keys are the bot's id scoped by its portal: bot 567 of
        # one portal and bot 567 of another are two queues.
        self._bot = await self.messenger.bot_id()
        bot = scoped(self.number, self._bot)
        offset = await asyncio.to_thread(self._lease_and_offset, bot)
        if offset is False:
            return False
        events, next_offset, more = await self.messenger.fetch_events(offset or None)
        for fetched in events:
            await asyncio.to_thread(self._handle_or_set_aside, bot, fetched)
        self.checkpoint("before_offset_saved")
        held = await asyncio.to_thread(self._save, bot, next_offset)
        if events:
            log.info(
                "bitrix.events_fetched portal=%s count=%s next_offset=%s",
                self.name,
                len(events),
                next_offset,
            )
            self.state.wake_worker()
        return more and held

    def _lease_and_offset(self, bot: int) -> int | bool | None:
        """The stored offset, or False while another replica holds the lease."""
        now = self.state.clock()
        with transaction(self.state.engine) as session:
            if not polling.take_lease(
                session, bot_id=bot, holder=self.holder, now=now, lease=self.lease
            ):
                return False
            return polling.stored_offset(session, bot_id=bot)

    def _handle_or_set_aside(self, bot: int, fetched: FetchedEvent) -> None:
        """Handle an event; one that failed the same way too often is set aside instead."""
        key = replay_key(bot, fetched.event_id)
        try:
            self._handle(bot, fetched)
        except (OperationalError, InterfaceError):
            raise  # the database, not the event: it waits for the database
        except Exception as exc:
            if not self.strikes.struck(key, type(exc).__name__):
                raise
            with transaction(self.state.engine) as session:
                error, now = type(exc).__name__, self.state.clock()
                set_aside.remember(session, fetched, error=error, now=now, portal=self.name)
                seen.first_sighting(session, key=key, now=self.state.clock())
            log.error(
                "bitrix.event_set_aside portal=%s event_id=%s error=%s: it failed %s times alike",
                self.name,
                fetched.event_id,
                type(exc).__name__,
                set_aside.SET_ASIDE_AFTER,
            )
            return
        self.strikes.forget(key)

    def _handle(self, bot: int, fetched: FetchedEvent) -> None:
        key = replay_key(bot, fetched.event_id)
        self.checkpoint(f"handling:{fetched.event_id}")
        with transaction(self.state.engine) as session:
            if session.get(SeenEvent, key) is not None:
                return
        now = self.state.clock()
        for event in fetched.events:
            # Fetched over our own authenticated call: the sender is vouched for.
            access = self.messenger.vouch(event.user_id) if isinstance(event, ChatReply) else ""
            handle_event(self.state, event, access, now, self.portal)
        with transaction(self.state.engine) as session:
            seen.first_sighting(session, key=key, now=now)
        self.checkpoint("event_handled")

    def _save(self, bot: int, offset: int | None) -> bool:
        with transaction(self.state.engine) as session:
            return polling.save_offset(
                session, bot_id=bot, holder=self.holder, offset=offset, now=self.state.clock()
            )

    def _bot_deleted(self) -> None:
        # Fetch mode may never read ONIMBOTV2DELETE (open point 6): BOT_NOT_FOUND is the news,
        # told while the bot is still known (so it is recognised as this portal's bot); the
        # worker then asks this portal whether the bot is gone (`bridge.outside.bot_removal`).
        deleted = BotDeleted(bot_id=self._bot, bot_code="")
        handle_event(self.state, deleted, "", self.state.clock(), self.portal)
        self.messenger.forget_bot()

    def _release(self) -> None:
        if self._bot is None:
            return
        try:
            with transaction(self.state.engine) as session:
                bot = scoped(self.number, self._bot)
                polling.release_lease(session, bot_id=bot, holder=self.holder)
        except SQLAlchemyError:
            log.warning("bitrix.poll_lease_not_released: it runs out by itself")
