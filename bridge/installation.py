"""Which installation of our portal may send the bot events: its `auth[member_id]`, pinned.

`bot.origin` already refused events from another portal; what remains is the installation,
which only the database can remember once learned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.events import Event, RatingClick
from bridge.intake import same_secret
from storage import status, surveys
from storage.db import transaction
from storage.status import StatusKey

log = logging.getLogger(__name__)
MEMBER_KEY = StatusKey.BITRIX_MEMBER_ID


class MemberPin:
    """Our portal installation's `auth[member_id]`: configured, or learned and stored.

    Learned from the first event that proves it comes from our portal: a click on a button we
    sent (it carries a survey's unguessable token, and names that survey's person). The handler
    URL and the application token alone (both visible in that URL) never decide it. Until it is
    learned, events pass on the other checks.
    """

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], configured: str | None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.member_id = configured

    def admits(self, member_id: str, events: tuple[Event, ...]) -> bool:
        """Whether an event's `auth[member_id]` is our installation's (may read the database)."""
        if not member_id:
            return False
        if self.member_id is None:
            self.member_id = self._learn(member_id, events)
            if self.member_id is None:
                return True
        return same_secret(member_id, self.member_id)

    def _learn(self, member_id: str, events: tuple[Event, ...]) -> str | None:
        with transaction(self.engine) as session:
            stored = status.get_status(session, key=MEMBER_KEY)
            if stored is not None:
                return stored.value
            if not any(_proves_portal(session, event) for event in events):
                return None
            log.info("bitrix.member_id_pinned member_id=%s", member_id[:64])
            return status.first_status(
                session, key=MEMBER_KEY, value=member_id[:64], now=self.clock()
            )


def _proves_portal(session: Session, event: Event) -> bool:
    """A click on one of our buttons, by the person the survey was sent to."""
    button = event.button if isinstance(event, RatingClick) else None
    if not isinstance(event, RatingClick) or button is None:
        return False
    survey = surveys.survey_by_token(session, token=button[0])
    return survey is not None and survey.bitrix_user_id == event.user_id
