"""The one test clock: the service's notion of now, moved only by the test."""

from __future__ import annotations

from datetime import datetime

from storage.tables import utcnow


class ManualClock:
    """A clock that stands still (at `now`, or at the time it was made) until moved."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = utcnow() if now is None else now

    def __call__(self) -> datetime:
        return self.now
