"""A clock that moves only when a test moves it: timeouts and backoffs without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2024, 8, 24, 10, 30, tzinfo=UTC)


class FixedClock:
    """The time the services and the worker read; `advance` is the only way it changes."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        """The current (fixed) time, aware UTC."""
        return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move the clock forward and return the new time."""
        self._now += by
        return self._now
