"""One imbot.v2 event poller per portal whose bot's events are fetched (fetch mode), started and
stopped as portals come and go.

Each portal's bot has a queue of its own on its own portal (bitrix24-v2.md §4), so each gets a
poller of its own (`bridge.web.polling.EventPoller`), with its own lease, offset and backoff: a
portal whose Event.get fails (503, gone, blocked) backs off alone while the others' events are
read. The portals are read from `PortalDirectory` (believed `REFRESH_SECONDS`): a portal added
while the service runs is polled, and a removed one dropped (its lease given up), within that
time; a portal whose settings changed (added again: a new webhook or bot) gets a new poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.messenger import Messenger
from bot.v2.messenger_v2 import ImbotV2Messenger
from bridge.config.settings import Settings
from bridge.outside.portals import REFRESH_SECONDS, PortalView
from bridge.web import polling
from bridge.web.routes.state import App

log = logging.getLogger(__name__)
# How often the portals are looked at (the directory itself is re-read every REFRESH_SECONDS).
LOOK_EVERY = REFRESH_SECONDS / 5
# An added portal's messenger as it is (its ids unscoped), from its settings and number.
Builder = Callable[[Settings, int], Messenger]


def start_polling(
    state: App, home: Messenger, build: Builder | None, stop: asyncio.Event
) -> list[asyncio.Task[None]]:
    """The pollers' task: every portal whose bot's events are fetched (imbot.v2 fetch mode)."""
    pollers = PortalPollers(state, home, build)
    state.poller = pollers
    return [asyncio.create_task(pollers.run(stop))]


@dataclass
class _Running:
    view: PortalView
    poller: polling.EventPoller
    stop: asyncio.Event
    task: asyncio.Task[None]


class PortalPollers:
    """The running pollers, one per fetching portal, by the portal's number."""

    def __init__(self, state: App, home: Messenger, build: Builder | None) -> None:
        self.state = state
        self._home = home
        self._build = build
        self._running: dict[int, _Running] = {}

    @property
    def failures(self) -> int:
        """Failed polls in a row, summed over the portals."""
        return sum(r.poller.failures for r in self._running.values())

    @property
    def last_error(self) -> str | None:
        """Why each failing portal's last poll failed (None while every poll succeeds)."""
        said = [
            f"{r.view.name}: {r.poller.last_error}"
            for r in self._running.values()
            if r.poller.last_error
        ]
        return "; ".join(said) or None

    def polled(self) -> list[str]:
        """The names of the portals polled now."""
        return sorted(r.view.name for r in self._running.values())

    async def run(self, stop: asyncio.Event) -> None:
        """Keep one poller per fetching portal until `stop` is set, then stop them all."""
        try:
            while not stop.is_set():
                await self.look()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=LOOK_EVERY)
        finally:
            for number in list(self._running):
                await self._stop(number)

    async def look(self) -> None:
        """Start a poller for each fetching portal without one; stop those of portals gone."""
        try:
            views = await asyncio.to_thread(self.state.portals.views)
        except SQLAlchemyError as exc:
            log.warning("bitrix.pollers_unchanged error=%s", type(exc).__name__)
            return
        wanted = {v.number: v for v in views if v.settings.fetches_events}
        for number, running in list(self._running.items()):
            if wanted.get(number) != running.view or running.task.done():
                await self._stop(number)
        for number, view in wanted.items():
            if number not in self._running:
                await self._start(view)

    async def _start(self, view: PortalView) -> None:
        messenger = self._home if view.number == 0 else None
        if view.number != 0 and self._build is not None:
            messenger = self._build(view.settings, view.number)
        if not isinstance(messenger, ImbotV2Messenger):
            return
        poller = polling.EventPoller(self.state, messenger, portal=view)
        stop = asyncio.Event()
        task = asyncio.create_task(poller.run(stop))
        self._running[view.number] = _Running(view, poller, stop, task)
        log.info("bitrix.poller_started portal=%s", view.name)

    async def _stop(self, number: int) -> None:
        running = self._running.pop(number)
        running.stop.set()
        try:
            await running.task
        except Exception as exc:
            log.error("bitrix.poller_crashed portal=%s", running.view.name, exc_info=exc)
        log.info("bitrix.poller_stopped portal=%s", running.view.name)
