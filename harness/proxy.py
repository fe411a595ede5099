"""A TCP proxy for outage tests whose mode can be switched at any time (a small Toxiproxy).

`pass` forwards bytes; `delay` waits N seconds before forwarding each chunk; `reset` accepts and
closes at once with RST; `blackhole` accepts and never answers nor forwards; `refuse` stops
listening until another mode listens again on the same port. Its event loop runs in a thread,
so it can sit between two real processes.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

Mode = Literal["pass", "delay", "reset", "blackhole", "refuse"]
T = TypeVar("T")


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    black: bool = False  # once it swallowed bytes it can never carry a coherent answer again
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


def _reset(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None and not writer.transport.is_closing():
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()


class Proxy:
    """Forwards `127.0.0.1:<port>` to `target_host:target_port` as `mode` says."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target, self.port = (target_host, target_port), 0
        self.mode: Mode = "pass"
        self.delay = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Proxy:
        """Start the loop thread and listen on a free port."""
        self._thread.start()
        self._run(self._switch("pass", 0.0))
        return self

    def stop(self) -> None:
        """Cut every connection, stop listening, end the thread."""
        if self._thread.is_alive():
            self._run(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()

    def set_mode(self, mode: Mode, delay: float = 0.0) -> None:
        """Switch now; `reset` and `refuse` also cut open connections with RST."""
        self._run(self._switch(mode, delay))

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    async def _switch(self, mode: Mode, delay: float) -> None:
        self.mode, self.delay = mode, delay
        for connection in list(self._connections):
            if mode in ("reset", "refuse"):
                _reset(connection.client)
                _reset(connection.upstream)
            connection.black = connection.black or mode == "blackhole"
        if mode == "refuse" and self._server is not None:
            self._server.close()
            self._server = None
        elif mode != "refuse" and self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
            self.port = int(self._server.sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        await self._switch("refuse", 0.0)
        tasks = [task for connection in self._connections for task in connection.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode in ("reset", "refuse"):
            return _reset(writer)
        connection = _Connection(writer, black=self.mode == "blackhole")
        self._connections.add(connection)
        try:
            if connection.black:
                return await self._pipe(reader, None, connection)
            try:
                upstream, connection.upstream = await asyncio.open_connection(*self.target)
            except OSError:
                return _reset(writer)
            await asyncio.gather(
                self._pipe(reader, connection.upstream, connection),
                self._pipe(upstream, writer, connection),
            )
        except asyncio.CancelledError:
            pass  # stop(): start_server's done-callback would report the cancellation
        finally:
            self._connections.discard(connection)
            _reset(connection.upstream)
            writer.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter | None, c: _Connection
    ) -> None:
        if (task := asyncio.current_task()) is not None:
            c.tasks.add(task)
        try:
            while data := await reader.read(65536):
                c.black = c.black or self.mode == "blackhole"
                if c.black or writer is None:
                    continue
                if self.mode == "delay":
                    await asyncio.sleep(self.delay)
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            if writer is not None and not c.black:
                writer.close()
