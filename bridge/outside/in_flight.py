"""One cap per vendor on the requests in flight, process-wide, sized to its connection pool.

httpx's pool does bookkeeping for every request it holds on each request and each answer, so
its cost grows with the square of the requests waiting in it (a profile of 160 Okdesk lookups
at once into a pool of 100 spent 30 % of the process's CPU there). The cap lets a request into
the pool only when a connection is free for it: the rest wait on a semaphore, which costs
nothing per waiter. A request holds its place until its answer's body is read or closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx


class InFlightCap(httpx.AsyncBaseTransport):
    """At most `cap` requests at once through `inner` (whose pool has `cap` connections)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, cap: int) -> None:
        self._inner = inner
        self.cap = cap
        self._places = asyncio.Semaphore(cap)
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._places.acquire()
        self._taken()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._release()
            raise
        if isinstance(response.stream, httpx.AsyncByteStream):
            response.stream = _Releasing(response.stream, self._release)
        else:
            self._release()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _taken(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _release(self) -> None:
        self.in_flight -= 1
        self._places.release()


class _Releasing(httpx.AsyncByteStream):
    """An answer's body that gives the request's place back once read to the end or closed."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if not self._released:
                self._released = True
                self._release()
