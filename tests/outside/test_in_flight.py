"""The cap on requests in flight lets the waiting requests in by their place in line: a
request made outside any invitation batch first, then the older batch's before the newer's
(so a batch's second read, a contact's e-mail, never queues behind every newer batch's
tickets). A waiter cancelled while waiting, or just as its place came, loses no place. An
answer that comes read frees its place at once; one still streaming, once read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bridge.outside.in_flight import InFlightCap, in_line

pytestmark = pytest.mark.anyio


class _Held(httpx.AsyncBaseTransport):
    """Answers each request once the test lets it go, noting the order they came in."""

    def __init__(self) -> None:
        self.came: list[str] = []
        self.go = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.came.append(request.url.path.strip("/"))
        await self.go.wait()
        return httpx.Response(200, stream=_Body())


class _Body(httpx.AsyncByteStream):
    """An answer's body as a server's arrives: read from the wire, then closed."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"{}"


async def _get(client: httpx.AsyncClient, name: str, place: float | None = None) -> None:
    if place is None:
        (await client.get(f"http://okdesk.test/{name}")).raise_for_status()
        return
    with in_line(place):
        (await client.get(f"http://okdesk.test/{name}")).raise_for_status()


async def test_waiting_requests_go_in_by_their_place_in_line() -> None:
    held = _Held()
    async with httpx.AsyncClient(transport=InFlightCap(held, 1)) as client:
        first = asyncio.create_task(_get(client, "first"))
        await asyncio.sleep(0.01)
        waiting = [
            asyncio.create_task(_get(client, "newer-batch", 20.0)),
            asyncio.create_task(_get(client, "older-batch", 10.0)),
            asyncio.create_task(_get(client, "older-batch-again", 10.0)),
            asyncio.create_task(_get(client, "a-rating")),
        ]
        await asyncio.sleep(0.01)
        held.go.set()
        await asyncio.gather(first, *waiting)
    assert held.came == ["first", "a-rating", "older-batch", "older-batch-again", "newer-batch"]


async def test_a_cancelled_waiter_loses_no_place() -> None:
    held = _Held()
    cap = InFlightCap(held, 1)
    async with httpx.AsyncClient(transport=cap) as client:
        first = asyncio.create_task(_get(client, "first"))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(_get(client, "gone", 1.0))
        last = asyncio.create_task(_get(client, "last", 2.0))
        await asyncio.sleep(0.01)
        gone.cancel()
        held.go.set()
        await asyncio.gather(first, last)
        with pytest.raises(asyncio.CancelledError):
            await gone
        # A request cancelled as its place comes (given or not yet) passes it on.
        held.go.clear()
        again = asyncio.create_task(_get(client, "again"))
        await asyncio.sleep(0.01)
        unlucky = asyncio.create_task(_get(client, "unlucky"))
        after = asyncio.create_task(_get(client, "after"))
        await asyncio.sleep(0.01)
        held.go.set()
        await asyncio.sleep(0)
        unlucky.cancel()
        await asyncio.gather(again, after)
        with pytest.raises(asyncio.CancelledError):
            await unlucky
    assert held.came == ["first", "last", "again", "after"]
    assert cap.in_flight == 0


async def test_an_answer_read_already_frees_its_place_at_once_a_streamed_one_once_read() -> None:
    answers = iter([httpx.Response(200, content=b"{}"), httpx.Response(200, stream=_Body())])
    cap = InFlightCap(httpx.MockTransport(lambda request: next(answers)), 1)
    request = httpx.Request("GET", "http://okdesk.test/ticket")
    await cap.handle_async_request(request)
    assert cap.in_flight == 0
    streamed = await cap.handle_async_request(request)
    assert cap.in_flight == 1
    assert await streamed.aread() == b"{}"
    assert cap.in_flight == 0
