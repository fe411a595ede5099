"""imbot.v2's pace for a command's few calls: "2 requests a second per application" (§6)."""

from __future__ import annotations

import asyncio
import time


class Paced:
    """A request budget of imbot.v2's "2 requests a second per application" (§6): one
    request every 0.55 s, so registration's few calls never meet a 429."""

    def __init__(self, every: float = 0.55) -> None:
        self._every = every
        self._next = 0.0

    async def acquire(self) -> None:
        """Wait for this request's turn."""
        now = time.monotonic()
        wait = self._next - now
        self._next = max(now, self._next) + self._every
        if wait > 0:
            await asyncio.sleep(wait)

    async def refused(self) -> None:
        """Registration's few calls are paced already: a refusal is retried by the caller."""
        return None
