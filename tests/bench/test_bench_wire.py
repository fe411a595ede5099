"""The benchmark's HTTP client (bench/running/wire.py) reads answers as servers really send them: by
Content-Length, in chunks, and reopens a connection the server closed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.running.service import fire_webhooks
from bench.running.wire import Connection, WireError
from harness.processes import Service

pytestmark = pytest.mark.anyio

ANSWERS = [
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n"
    b'{"result":"accepted"}',
    b"HTTP/1.1 401 Unauthorized\r\ntransfer-encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n",
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\nconnection: close\r\n\r\nno",
]


async def test_answers_by_length_by_chunks_and_after_a_close() -> None:
    heads: list[bytes] = []
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while len(heads) < 4:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            heads.append(head)
            writer.write(ANSWERS[min(len(heads) - 1, 2)])
            await writer.drain()
            if b"connection: close" in ANSWERS[min(len(heads) - 1, 2)]:
                writer.close()
                return

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connection = Connection(f"http://127.0.0.1:{port}")
    try:
        first, second, third, fourth = [
            await connection.post(
                "/api/v1/okdesk/webhook",
                b"{}",
                params={"token": "t"},
                content_type="application/json",
            )
            for _ in range(4)
        ]
    finally:
        await connection.close()
        server.close()
    assert (first.status, first.body) == (200, b'{"result":"accepted"}')
    assert (second.status, second.body) == (401, b"hello world")
    assert (third.status, third.body) == (503, b"no")
    assert fourth.status == 503 and connections == 2  # reopened after the server closed
    assert heads[0].startswith(b"POST /api/v1/okdesk/webhook?token=t HTTP/1.1\r\n")


async def test_something_that_is_not_http_is_an_error() -> None:
    async def serve(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"SSH-2.0-OpenSSH\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    connection = Connection(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        with pytest.raises(WireError):
            await connection.post("/", b"", params={}, content_type="text/plain")
    finally:
        await connection.close()
        server.close()


async def test_a_connection_the_server_closed_while_idle_is_reopened_and_the_request_resent() -> (
    None
):
    served = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await reader.readuntil(b"\r\n\r\n")
        served += 1
        writer.write(ANSWERS[0])
        await writer.drain()
        writer.close()  # as uvicorn closes a kept-alive connection idle for 5 s

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    connection = Connection(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        for _ in range(2):
            answer = await connection.post("/", b"", params={}, content_type="text/plain")
            assert answer.status == 200
            await asyncio.sleep(0.05)
    finally:
        await connection.close()
        server.close()
    assert served == 2


async def test_warm_up_answers_are_kept_apart_and_every_body_is_sent() -> None:
    """With warm_up, each sender's first webhook is answered before the clock starts and is
    kept in `cold`, not in the percentiles; every body is still sent once."""
    bodies_seen: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            bodies_seen.append(await reader.readexactly(length))
            writer.write(ANSWERS[0])
            await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    service = Service({"PORT": str(port)}, Path("unused.log"))
    bodies = [str(i).encode() for i in range(10)]
    try:
        fired = await fire_webhooks(service, bodies, 3, warm_up=True)
    finally:
        server.close()
    assert sorted(bodies_seen) == sorted(bodies)
    assert bodies_seen[:3] == bodies[:3]  # the warm-up round went first, one per sender
    assert (len(fired.cold), len(fired.latencies)) == (3, 7)
    assert fired.statuses[200] == 10 and fired.results["accepted"] == 10
