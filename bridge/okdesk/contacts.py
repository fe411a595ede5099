"""A contact's e-mail, kept in memory for a minute: a burst of closures by one contact reads
it from Okdesk once, and lookups of one contact made at the same time share one request.

Personal data: held in this process's memory only, never stored or logged, and forgotten
`EMAIL_TTL` after it was read (docs/security.md).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

EMAIL_TTL = 60.0
# Contacts remembered at most; the oldest are forgotten first.
MOST_CONTACTS = 10_000


class RecentEmails:
    """Contact id → e-mail (or None: the contact has none), for `ttl` seconds."""

    def __init__(
        self,
        ttl: float = EMAIL_TTL,
        most: int = MOST_CONTACTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._most = most
        self._clock = clock
        self._kept: OrderedDict[int, tuple[float, str | None]] = OrderedDict()
        self._reading: dict[int, asyncio.Task[str | None]] = {}

    async def email(self, contact_id: int, read: Callable[[], Awaitable[str | None]]) -> str | None:
        """The contact's e-mail: remembered, being read already, or read now with `read`."""
        kept = self._kept.get(contact_id)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        task = self._reading.get(contact_id)
        if task is None:
            task = asyncio.ensure_future(read())
            self._reading[contact_id] = task
            task.add_done_callback(lambda done: self._read(contact_id, done))
        return await asyncio.shield(task)

    def _read(self, contact_id: int, task: asyncio.Task[str | None]) -> None:
        self._reading.pop(contact_id, None)
        if task.cancelled() or task.exception() is not None:
            return
        self._kept.pop(contact_id, None)
        self._kept[contact_id] = (self._clock() + self._ttl, task.result())
        while len(self._kept) > self._most:
            self._kept.popitem(last=False)
        self._forget_expired()

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._kept and next(iter(self._kept.values()))[0] <= now:
            self._kept.popitem(last=False)
