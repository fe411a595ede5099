"""The HTTP server: uvicorn with limits, so that slow or greedy clients cannot hold the service.

- A request head must be complete within `head_timeout` of the connection opening (or of the
  previous response on a kept-alive connection), else the connection is closed (with a 408
  when part of a head came). uvicorn has no such timeout; `GuardedH11Protocol` adds it.
- A head may hold `max_head` bytes: h11 refuses a longer one that arrives in parts (400), the
  middleware one that arrives whole (431).
- The body must be complete within `body_timeout` of its head: else 408 and the connection
  closes (`LimitsMiddleware`, installed in the app by `install_limits`).
- At most `max_connections` connections and requests at once: uvicorn answers the request
  that would pass the limit with 503. Idle and slow connections count, which is why heads and
  bodies have timeouts.
- A client that goes away in the middle of its body costs one log line, not a traceback.
- One access line a request (`http.request`: client, method, path, status; never the query,
  where tokens travel), except an accepted webhook or event: its route logs what became of it.
- Database work runs in threads (`asyncio.to_thread`): the event loop gets a pool of
  `DATABASE_THREADS` when it is made, as asyncio's default (cores + 4) would queue requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from bridge.logs import access_line
from bridge.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """How long and how much a client may take (seconds, bytes, connections)."""

    head_timeout: float = 10.0
    body_timeout: float = 10.0
    max_head: int = 16 * 1024
    max_connections: int = 1000
    backlog: int = 256
    keep_alive: int = 5


LIMITS = Limits()
DATABASE_THREADS = 32


def limits_of(settings: Settings) -> Limits:
    """The limits the settings ask for."""
    return Limits(
        head_timeout=settings.http_head_timeout.total_seconds(),
        body_timeout=settings.http_body_timeout.total_seconds(),
        max_connections=settings.http_max_connections,
        backlog=settings.http_backlog,
    )


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration for this service, with its limits."""

    def __init__(self, app: ASGIApp, settings: Settings, limits: Limits = LIMITS) -> None:
        super().__init__(
            app,
            host=settings.host,
            port=settings.port,
            http=GuardedH11Protocol,
            ws="none",
            log_config=None,
            proxy_headers=True,
            server_header=False,
            # One line a request comes from `LimitsMiddleware` (`http.request`), not uvicorn.
            access_log=False,
            limit_concurrency=limits.max_connections,
            backlog=limits.backlog,
            timeout_keep_alive=limits.keep_alive,
            timeout_graceful_shutdown=math.ceil(settings.shutdown_grace.total_seconds()),
            h11_max_incomplete_event_size=limits.max_head,
        )
        self.limits = limits

    def get_loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop]:
        """uvicorn's choice of event loop, running `to_thread` work on the database threads."""
        new_loop = super().get_loop_factory() or asyncio.new_event_loop

        def loop_with_database_threads() -> asyncio.AbstractEventLoop:
            loop = new_loop()
            loop.set_default_executor(database_threads())
            return loop

        return loop_with_database_threads


def database_threads() -> ThreadPoolExecutor:
    """The pool an event loop of the service runs its database work on (`to_thread`)."""
    return ThreadPoolExecutor(max_workers=DATABASE_THREADS, thread_name_prefix="db")


def serve(app: ASGIApp, settings: Settings, limits: Limits = LIMITS) -> int:
    """Serve until stopped: 0, or uvicorn's 3 when the server could not start."""
    server = uvicorn.Server(ServerConfig(app, settings, limits))
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn raises Ctrl+C again when stopped
        server.run()
    return 0 if server.started else STARTUP_FAILURE


def _plain_response(status: str, text: str) -> bytes:
    body = text.encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request head does not come in time."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = config.limits if isinstance(config, ServerConfig) else LIMITS
        self.head_timer: asyncio.TimerHandle | None = None
        self.head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start waiting for the first head."""
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        """Feed h11; a head now complete stops the head timer."""
        cycle = self.cycle
        if self.head_timer is not None:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.cycle is not cycle:
            self._stop_head_timer()

    def on_response_complete(self) -> None:
        """After a response, the next head (if the connection stays) has its own deadline."""
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is cycle and not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the timer with the connection."""
        self._stop_head_timer()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._stop_head_timer()
        self.head_bytes = 0
        self.head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
        # Bytes after a response may be the rest of the last body: only a new head gets a 408.
        if self.head_bytes and self.conn.their_state is h11.IDLE:
            log.warning(
                "http.head_timeout client=%s received=%d bytes in %gs",
                client,
                self.head_bytes,
                self.limits.head_timeout,
            )
            text = f"the request head did not arrive within {self.limits.head_timeout:g} s"
            self.transport.write(_plain_response("408 Request Timeout", text))
        else:
            log.debug("http.slow_connection_closed client=%s received=%d", client, self.head_bytes)
        self.transport.close()


class BodyTimeoutError(Exception):
    """The request body did not arrive in time."""


class _Body:
    """`receive`, with a deadline until the body is complete; counts what arrived."""

    def __init__(self, receive: Receive, timeout: float) -> None:
        self._receive = receive
        self._deadline = asyncio.get_running_loop().time() + timeout
        self.received = 0
        self.complete = False

    async def receive(self) -> Message:
        """The next message; BodyTimeoutError once the deadline passed mid-body."""
        if self.complete:
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimeoutError from None
        self.received += len(message.get("body", b""))
        self.complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message


def _head_size(scope: Scope) -> int:
    headers = sum(len(name) + len(value) for name, value in scope["headers"])
    return len(scope.get("raw_path") or b"") + len(scope["query_string"]) + headers


class LimitsMiddleware:
    """Refuses oversized heads (431), cuts off slow bodies (408), logs aborted uploads."""

    def __init__(self, app: ASGIApp, limits: Limits = LIMITS) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app with the limits."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _head_size(scope) > self.limits.max_head:
            detail = f"the request head is larger than {self.limits.max_head} bytes"
            await _answer(scope, receive, send, 431, detail)
            return
        body = _Body(receive, self.limits.body_timeout)
        status = 0

        async def tracked_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, body.receive, tracked_send)
        except BodyTimeoutError:
            log.warning(
                "http.body_timeout path=%s received=%d bytes in %gs",
                scope["path"],
                body.received,
                self.limits.body_timeout,
            )
            if not status:
                detail = f"the request body did not arrive within {self.limits.body_timeout:g} s"
                status = 408
                await _answer(scope, receive, send, status, detail)
        except ClientDisconnect:
            log.info("http.client_gone path=%s received=%d bytes", scope["path"], body.received)
        access_line(scope, status)


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    """Answer with `{"detail": ...}` and close the connection."""
    response = JSONResponse({"detail": detail}, status, headers={"connection": "close"})
    await response(scope, receive, send)


def install_limits(app: Starlette, limits: Limits = LIMITS) -> None:
    """Add the body timeout, the head size limit and quiet aborted uploads to the app."""
    app.add_middleware(LimitsMiddleware, limits=limits)
