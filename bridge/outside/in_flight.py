"""One cap per vendor on the requests in flight, process-wide, sized to its connections.

The cap lets a request in only when a connection is free for it (`bridge.outside.connections`);
the rest wait in line, which costs nothing per waiter.

A request holds its place until its answer's body is read or closed. Bitrix24's cap is each
portal's own (`PerPortal`): a portal that is slow or unreachable holds only its own places.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx

# Where a request waits for its place: the smallest first, in the order they came among
# equals. A request made outside any `in_line` waits with 0: ahead of every invitation batch.
_PLACE_IN_LINE: ContextVar[float] = ContextVar("place_in_line", default=0.0)


def place_in_line() -> float:
    """Where a request made here waits for its place (`in_line`)."""
    return _PLACE_IN_LINE.get()


@contextmanager
def in_line(place: float) -> Iterator[None]:
    """Requests made inside (and in tasks started inside) wait with `place`: an invitation
    batch waits with the time it began, so an older batch's second read (a contact's e-mail)
    goes before a newer batch's first, and batches finish one after another, not together."""
    token = _PLACE_IN_LINE.set(place)
    try:
        yield
    finally:
        _PLACE_IN_LINE.reset(token)


class InFlightCap(httpx.AsyncBaseTransport):
    """At most `cap` requests at once through `inner` (whose pool has `cap` connections); the
    others wait for a place in the order of `in_line`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, cap: int) -> None:
        self._inner = inner
        self.cap = cap
        self._free = cap
        self._waiting: list[tuple[float, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._place()
        self._taken()
        return await _holding(self._inner, request, self._release)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def _place(self) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        given: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (place_in_line(), next(self._arrivals), given))
        try:
            await given
        except asyncio.CancelledError:
            if given.done() and not given.cancelled():
                self._hand_on()  # the place came as the request was cancelled: pass it on
            raise

    def _taken(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)

    def _release(self) -> None:
        self.in_flight -= 1
        self._hand_on()

    def _hand_on(self) -> None:
        """A place is free: to the first request waiting (cancelled ones are skipped)."""
        while self._waiting:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


class PerPortal(httpx.AsyncBaseTransport):
    """A way of its own (`way()`: a cap and its pools) for each server asked: each Bitrix24
    portal is a server of its own, with its own limits. The servers are the portals defined,
    so the ways are bounded by them."""

    def __init__(self, way: Callable[[], httpx.AsyncBaseTransport]) -> None:
        self._way = way
        self._ways: dict[tuple[str, str, int | None], httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        server = (request.url.scheme, request.url.host, request.url.port)
        way = self._ways.get(server)
        if way is None:
            way = self._ways[server] = self._way()
        return await way.handle_async_request(request)

    async def aclose(self) -> None:
        for way in self._ways.values():
            await way.aclose()


async def _holding(
    inner: httpx.AsyncBaseTransport, request: httpx.Request, release: Callable[[], None]
) -> httpx.Response:
    """`inner`'s answer, calling `release` once its body is read or closed (or it failed):
    at once for an answer that comes read (`connections.KeptConnections`)."""
    try:
        response = await inner.handle_async_request(request)
    except BaseException:
        release()
        raise
    if not response.is_closed and isinstance(response.stream, httpx.AsyncByteStream):
        response.stream = _Releasing(response.stream, release)
    else:
        release()
    return response


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
