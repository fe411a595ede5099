"""The Bitrix24 request budget, shared by every replica through the database.

Bitrix24 counts requests per portal (a leaky bucket: burst 50, drained 2 a second; reference
bitrix24.md §7), so a limit kept in one process's memory would be exceeded by two replicas.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine

from storage import queries
from storage.db import transaction


class SharedRequestBudget:
    """Waits until the portal's shared bucket has room for one more request."""

    def __init__(self, engine: Engine, name: str, burst: int, per_second: float) -> None:
        self._engine = engine
        self._name = name
        self._burst = burst
        self._per_second = per_second

    def _take(self) -> float:
        with transaction(self._engine) as session:
            return queries.take_request(
                session, self._name, time.time(), self._burst, self._per_second
            )

    async def acquire(self) -> None:
        """Take one request from the bucket, sleeping while it is empty."""
        while True:
            wait = await asyncio.to_thread(self._take)
            if wait <= 0:
                return
            await asyncio.sleep(wait)
