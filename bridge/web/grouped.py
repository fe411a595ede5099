"""Group commit: requests that write at the same moment share one transaction.

Each closure webhook must be committed before it is answered. Committed one by one, sixteen
concurrent webhooks queue on the database's single writer (and on the thread hand-offs to
reach it), so the last waits for fifteen transactions. Here the first request starts a write
at once; requests that arrive while it runs wait for the next one, which writes them all
together. Every request is still answered only after its own rows are committed, and a batch
that fails is written again item by item, so one bad item never fails the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

MAX_BATCH = 64


class GroupCommit(Generic[Item, Result]):
    """Runs `write(items) -> results` (blocking, one transaction) in a thread, items batched.

    `write_at_once`, when given, is tried first on the event loop itself: it writes the batch
    if it can begin without waiting, or returns None having written nothing (SQLite, when
    another writer holds it: `storage.db.transaction_at_once`).
    """

    def __init__(
        self,
        write: Callable[[Sequence[Item]], list[Result]],
        write_at_once: Callable[[Sequence[Item]], list[Result] | None] | None = None,
    ) -> None:
        self._write = write
        self._write_at_once = write_at_once
        self._pending: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write `item` with whatever else is waiting; its result once committed."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        # Shielded: a client that goes away does not take its row out of a running write.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = self._write_at_once(items) if self._write_at_once is not None else None
            if results is None:
                results = await asyncio.to_thread(self._write, items)
        except Exception as exc:
            if len(batch) > 1:
                for one in batch:
                    await self._commit([one])
                return
            _settle(batch[0][1], exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[Result], outcome: Result | Exception) -> None:
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
