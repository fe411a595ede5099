"""What the routes share: the service's state, built once in the app's lifespan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine

from bot.events import Event, addressed_to
from bot.messenger import Messenger
from bridge.config.settings import Settings
from bridge.outside.portals import PortalDirectory, PortalView
from bridge.report.html import guard
from bridge.rules.decisions import ClosureDecision
from bridge.survey import closures
from bridge.web.grouped import GroupCommit
from bridge.web.installation import MemberCheck
from bridge.web.intake import SenderLimit
from bridge.worker.loop import Worker
from storage.db import quick_writes


class PollerPulse(Protocol):
    """What readiness asks of the imbot.v2 event pollers."""

    @property
    def failures(self) -> int:
        """Failed polls in a row."""
        ...

    @property
    def last_error(self) -> str | None:
        """Why the last poll failed, when it did."""
        ...


class App:
    """What the routes need, built once in the lifespan."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.worker: Worker | None = None
        self.chat: Messenger | None = None
        # The imbot.v2 event pollers of this replica, one per fetching portal, for readiness.
        self.poller: PollerPulse | None = None
        self.senders = SenderLimit(settings.webhook_surveys_per_minute)
        # /admin: wrong tokens per address, and the forms already posted (issue 23, p11).
        self.admin_guesses = SenderLimit(guard.GUESSES_PER_MINUTE)
        self.installation = MemberCheck(engine, clock, settings.bitrix_member_id)
        self.portals = PortalDirectory(engine, settings)
        self.status_changes: GroupCommit[tuple[closures.StatusChange, datetime], ClosureDecision]
        self.status_changes = GroupCommit(
            partial(closures.record_status_changes, engine, settings),
            partial(closures.record_status_changes_at_once, engine, settings)
            if quick_writes(engine)
            else None,
        )
        # Settings do not change while the app runs: checked once, not on every request.
        self.placeholders = frozenset(settings.placeholders())

    def ours(self, event: Event, portal: PortalView | None = None) -> bool:
        """Whether an event is for our bot (by id once known, else by code); an added portal's
        event, for that portal's bot."""
        if portal is not None and portal.number != 0:
            mine = portal.settings
            if mine.bitrix_api == "v2":
                return addressed_to(event, mine.bitrix_v2_bot_id, mine.bitrix_v2_bot_code)
            return addressed_to(event, mine.bitrix_bot_id, mine.bitrix_bot_code)
        known = self.chat.known_bot_id() if self.chat is not None else None
        settings = self.settings
        v1_bot = settings.bitrix_bot_id
        if settings.bitrix_api == "v2":
            # After a switch the v1 bot's buttons still answer their surveys (README,
            # "Switching from imbot v1 to v2"): its events, checked as v1's, are ours too.
            v2_bot = known or settings.bitrix_v2_bot_id
            return addressed_to(event, v2_bot, settings.bitrix_v2_bot_code) or addressed_to(
                event, v1_bot, settings.bitrix_bot_code
            )
        return addressed_to(event, known or v1_bot, settings.bitrix_bot_code)

    def wake_worker(self) -> None:
        """Tell the in-process worker that new work is stored."""
        if self.worker is not None:
            self.worker.wake()


async def _state(request: Request) -> App:
    state: App = request.app.state.bridge
    return state


State = Annotated[App, Depends(_state)]


def refuse_while_placeholder(state: App, name: str) -> None:
    """503 while the secret `name` holds the example value."""
    # The example token is public: while it is set, the endpoint accepts nothing at all.
    if name in state.placeholders:
        raise HTTPException(503, f"{name} still holds the example value: set it and restart")
