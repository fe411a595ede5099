"""The vendors' connections (aiohttp under httpx's API), against a real server on loopback: a
request goes out as httpx built it (its query exactly as encoded, its headers and body), the
answer comes back as httpx reads it (a compressed body decoded, a redirect not followed), read
before it is handed back, one connection carries many requests, every pool of the process
shares the certificates loaded once, and every failure on the way is the httpx error the retry
rules read, its message free of the URL and its secrets."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from bridge.outside import connections
from bridge.outside.connections import KeptConnections
from outbound.errors import TransientError
from outbound.transient import no_answer_is_transient

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-token"
Answer = Callable[[bytes, bytes], Awaitable[bytes | None]]


@dataclass
class Server:
    """A loopback HTTP/1.1 server: each request's head and body noted, answered by `answer`."""

    answer: Answer
    port: int = 0
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(_fields(head).get(b"content-length", b"0"))
                body = await reader.readexactly(length)
                self.heads.append(head)
                self.bodies.append(body)
                reply = await self.answer(head, body)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _fields(head: bytes) -> dict[bytes, bytes]:
    """A request head's header fields, their names in lower case."""
    fields = (line.partition(b":") for line in head.split(b"\r\n")[1:])
    return {name.strip().lower(): value.strip() for name, _, value in fields if name}


def ok(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)


@asynccontextmanager
async def serving(answer: Answer) -> AsyncIterator[Server]:
    server = Server(answer)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    server.port = listening.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listening.close()


@asynccontextmanager
async def client(seconds: float = 5.0) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=KeptConnections(4), timeout=seconds) as http:
        yield http


async def test_a_request_goes_out_as_httpx_built_it_and_its_answer_comes_back() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok(b'{"id": 7}', b"Content-Type: application/json", b"X-Seen: yes")

    async with serving(answer) as server, client() as http:
        url = f"http://127.0.0.1:{server.port}/api/v1/issues/7"
        got = await http.post(
            url, params={"api_token": SECRET, "q": "a+b c@d/é"}, json={"rating": "good"}
        )
    assert got.status_code == 200 and got.json() == {"id": 7}
    assert got.headers["x-seen"] == "yes" and got.reason_phrase == "OK"
    request_line = server.heads[0].split(b"\r\n")[0]
    assert request_line == (
        b"POST /api/v1/issues/7?api_token=s3cr3t-token&q=a%2Bb+c%40d%2F%C3%A9 HTTP/1.1"
    )
    assert server.bodies == [b'{"rating":"good"}']
    assert _fields(server.heads[0])[b"content-type"] == b"application/json"


async def test_one_connection_carries_many_requests() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok(b"{}")

    async with serving(answer) as server, client() as http:
        for _ in range(20):
            assert (await http.get(f"http://127.0.0.1:{server.port}/x")).status_code == 200
    assert server.connections == 1 and len(server.heads) == 20


async def test_an_answer_comes_back_read_and_its_connection_serves_the_next() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok(b'{"id": 7}')

    wire = KeptConnections(1)
    async with serving(answer) as server:
        try:
            for _ in range(2):
                request = httpx.Request("GET", f"http://127.0.0.1:{server.port}/issues/7")
                got = await wire.handle_async_request(request)
                # Nothing left to read, and nothing to close: its place is free at once.
                assert got.is_closed and got.content == b'{"id": 7}'
        finally:
            await wire.aclose()
    assert server.connections == 1


async def test_the_certificates_are_loaded_once_for_every_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loaded: list[object] = []
    create = httpx.create_ssl_context

    def load() -> object:
        loaded.append(object())
        return create()

    monkeypatch.setattr(httpx, "create_ssl_context", load)
    connections.certificates.cache_clear()
    try:
        okdesk, portal = KeptConnections(4), KeptConnections(8)
        assert len(loaded) == 1  # when the pools are built, before any request
        async with serving(lambda head, body: _ok()) as server:
            for wire in (okdesk, portal):
                request = httpx.Request("GET", f"http://127.0.0.1:{server.port}/")
                assert (await wire.handle_async_request(request)).status_code == 200
                await wire.aclose()
        assert len(loaded) == 1
    finally:
        connections.certificates.cache_clear()


async def _ok() -> bytes:
    return ok(b"{}")


async def test_a_compressed_answer_is_read_decoded() -> None:
    packed = gzip.compress(b'{"email": "ivan@example.com"}')

    async def answer(head: bytes, body: bytes) -> bytes:
        return ok(packed, b"Content-Encoding: gzip")

    async with serving(answer) as server, client() as http:
        got = await http.get(f"http://127.0.0.1:{server.port}/contact")
    assert got.json() == {"email": "ivan@example.com"}


async def test_a_redirect_comes_back_as_it_is_for_the_client_to_judge() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return (
            b"HTTP/1.1 302 Found\r\nLocation: https://new.bitrix24.ru/\r\nContent-Length: 0\r\n\r\n"
        )

    async with serving(answer) as server, client() as http:
        got = await http.post(f"http://127.0.0.1:{server.port}/rest/1/{SECRET}/batch")
    assert got.status_code == 302 and got.headers["location"] == "https://new.bitrix24.ru/"
    assert len(server.heads) == 1


async def test_a_server_that_hangs_up_or_never_answers_is_a_transient_failure() -> None:
    async def hang_up(head: bytes, body: bytes) -> None:
        return None

    async def stall(head: bytes, body: bytes) -> bytes:
        await asyncio.sleep(5)
        return ok(b"{}")

    for answer, error in ((hang_up, httpx.ReadError), (stall, httpx.ReadTimeout)):
        async with serving(answer) as server, client(seconds=0.3) as http:
            url = f"http://127.0.0.1:{server.port}/rest/1/{SECRET}/user.get"
            with pytest.raises(error) as caught:
                await http.get(url)
            with pytest.raises(TransientError) as said, no_answer_is_transient("user.get"):
                await http.get(url)
        assert SECRET not in str(caught.value) and SECRET not in str(said.value)


async def test_a_server_that_is_not_there_is_a_connect_error() -> None:
    async def answer(head: bytes, body: bytes) -> bytes:
        return ok(b"{}")

    async with serving(answer) as server:
        port = server.port
    async with client() as http:
        with pytest.raises(httpx.ConnectError) as caught:
            await http.get(f"http://127.0.0.1:{port}/api/v1/issues?api_token={SECRET}")
    assert SECRET not in str(caught.value)
