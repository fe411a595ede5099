"""Fetched imbot.v2 events set aside (issue 22, point 9): one that fails the same way every
time must not block the events behind it forever, nor vanish unseen.

After `SET_ASIDE_AFTER` failures in a row with the same error, the poller remembers the event
as seen and lists it here for the operator (`python -m bridge.admin check`). What is kept says
which event, of what kind, failed how and when; never its text or who sent it.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlmodel import Session

from bot.v2.events_v2 import FetchedEvent
from storage import status
from storage.status import StatusKey

# Tries of one event, failing alike, before it is set aside.
SET_ASIDE_AFTER = 3
# The newest events set aside that the operator is shown.
KEPT = 20


class Strikes:
    """How many times in a row each event failed, and how (in memory: one poller's view)."""

    def __init__(self) -> None:
        self._failed: dict[str, tuple[str, int]] = {}

    def struck(self, key: str, error: str) -> bool:
        """Count a failure; True once the event failed `SET_ASIDE_AFTER` times alike."""
        before, count = self._failed.get(key, (error, 0))
        count = count + 1 if before == error else 1
        if len(self._failed) > 1000:
            self._failed.clear()
        self._failed[key] = (error, count)
        return count >= SET_ASIDE_AFTER

    def forget(self, key: str) -> None:
        """The event was handled."""
        self._failed.pop(key, None)


def remember(
    session: Session, fetched: FetchedEvent, *, error: str, now: datetime, portal: str = "default"
) -> None:
    """List an event set aside for the operator (the newest `KEPT`), with its portal's name."""
    entry = {
        "portal": portal,
        "event_id": fetched.event_id,
        "kinds": [type(event).__name__ for event in fetched.events],
        "error": error,
        "at": now.isoformat(),
    }
    kept = [entry, *listed(session)][:KEPT]
    status.set_status(session, key=StatusKey.EVENTS_SET_ASIDE, value=json.dumps(kept), now=now)


def listed(session: Session) -> list[dict[str, object]]:
    """The events set aside, newest first."""
    found = status.get_status(session, key=StatusKey.EVENTS_SET_ASIDE)
    value = json.loads(found.value) if found is not None else []
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def said(entries: list[dict[str, object]]) -> str:
    """One line for the operator."""
    if not entries:
        return "no fetched event was set aside"
    latest = entries[0]
    named = latest.get("kinds")
    kinds = ", ".join(str(kind) for kind in named) if isinstance(named, list) else ""
    kinds = kinds or "no event"
    return (
        f"{len(entries)} fetched event(s) set aside after failing {SET_ASIDE_AFTER} times alike; "
        f"latest: event {latest.get('event_id')} of portal {latest.get('portal', 'default')} "
        f"({kinds}), {latest.get('error')}, "
        f"at {latest.get('at')}"
    )
