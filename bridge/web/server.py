"""The HTTP server: uvicorn with limits, so that slow or greedy clients cannot hold the service.

- A request head must be complete within `head_timeout` of the connection opening (or of the
  previous response on a kept-alive connection), else the connection is closed (with a 408
  when part of a head came). uvicorn has no such timeout; `GuardedProtocol` adds it, around
  uvicorn's httptools protocol (its C parser costs a third of h11's CPU a request).
- A head may hold `max_head` bytes: else 431, from the protocol or the middleware.
- The body must be complete within `body_timeout` of its head: else 408 and the connection
  closes (`bridge.web.limits.LimitsMiddleware`, installed in the app by `install_limits`).
- At most `max_connections` connections and requests at once, and `per_client` connections
  from one client address (`bridge.web.connections`): past it a connection is refused with 503.
  When the server is full, a new connection takes the place of a silent one of the address
  holding the most (or of its own), so silent connections cannot starve requests that come.
  A kept-alive connection idles 2 s.
- `X-Forwarded-For` and `X-Forwarded-Proto` are believed only from `TRUSTED_PROXIES`.
- A client gone in the middle of its body costs one log line. One access line a request
  (`http.request`: client, method, path, status; never the query, where tokens travel), except
  an accepted webhook or event: its route logs what became of it.
- Database work runs in threads (`asyncio.to_thread`): the event loop gets a pool of
  `DATABASE_THREADS` when it is made. PostgreSQL's transactions wait on the network and
  overlap: 32, as asyncio's default (cores + 4) would queue requests. SQLite's writers take
  turns on one lock: 8, as more only wait their turn and contend for the interpreter (a
  soak at 20 closures and 20 clicks a second took 0.62 cores with 32, 0.53 with 8).
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

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bridge.config.settings import Settings
from bridge.web.connections import ConnectionBook, Trusted
from storage.db import normalize_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """How long and how much a client may take (seconds, bytes, connections)."""

    head_timeout: float = 10.0
    body_timeout: float = 10.0
    max_head: int = 16 * 1024
    max_connections: int = 1000
    backlog: int = 256
    keep_alive: int = 2
    per_client: int = 200
    trusted_proxies: tuple[str, ...] = ()


LIMITS = Limits()
DATABASE_THREADS = {"sqlite": 8, "postgresql": 32}


def limits_of(settings: Settings) -> Limits:
    """The limits the settings ask for."""
    return Limits(
        head_timeout=settings.http_head_timeout.total_seconds(),
        body_timeout=settings.http_body_timeout.total_seconds(),
        max_connections=settings.http_max_connections,
        backlog=settings.http_backlog,
        per_client=settings.http_max_connections_per_client,
        trusted_proxies=tuple(settings.trusted_proxies),
    )


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration for this service, with its limits."""

    def __init__(self, app: ASGIApp, settings: Settings, limits: Limits = LIMITS) -> None:
        self.database_url = settings.database_url
        super().__init__(
            app,
            host=settings.host,
            port=settings.port,
            http=GuardedProtocol,
            ws="none",
            log_config=None,
            # uvicorn would believe 127.0.0.1's forwarded headers: only the configured ones.
            proxy_headers=bool(limits.trusted_proxies),
            forwarded_allow_ips=list(limits.trusted_proxies),
            server_header=False,
            # One line a request comes from `LimitsMiddleware` (`http.request`), not uvicorn.
            access_log=False,
            # Not uvicorn's limit: it counts every connection, also those refused and closing,
            # and 503s a webhook's request under churn. `GuardedProtocol` holds at most
            # `max_connections` admitted ones, so at most as many requests run at once.
            limit_concurrency=None,
            backlog=limits.backlog,
            timeout_keep_alive=limits.keep_alive,
            timeout_graceful_shutdown=math.ceil(settings.shutdown_grace.total_seconds()),
        )
        self.limits = limits
        self.book = ConnectionBook(limits.per_client, Trusted(limits.trusted_proxies))

    def get_loop_factory(self) -> Callable[[], asyncio.AbstractEventLoop]:
        """uvicorn's choice of event loop, running `to_thread` work on the database threads."""
        new_loop = super().get_loop_factory() or asyncio.new_event_loop

        def loop_with_database_threads() -> asyncio.AbstractEventLoop:
            loop = new_loop()
            loop.set_default_executor(database_threads(self.database_url))
            return loop

        return loop_with_database_threads


def database_threads(database_url: str) -> ThreadPoolExecutor:
    """The pool an event loop of the service runs its database work on (`to_thread`)."""
    threads = DATABASE_THREADS[normalize_url(database_url).get_backend_name()]
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="db")


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


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (a C parser: a third of h11's CPU a request), closing a
    connection whose request head does not come in time or grows past `max_head`."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = config.limits if isinstance(config, ServerConfig) else LIMITS
        fallback = ConnectionBook(LIMITS.per_client)
        self.book = config.book if isinstance(config, ServerConfig) else fallback
        self.head_timer: asyncio.TimerHandle | None = None
        self.head_bytes = 0
        self.head_begun = self.in_message = self.admitted = False
        self.awaited_since = 0.0

    @property
    def host(self) -> str | None:
        """The client address this connection came from."""
        return self.client[0] if self.client else None

    @property
    def silent_since(self) -> float | None:
        """Since when this connection has awaited a head with no byte of it; None if not."""
        silent = self.head_timer is not None and self.head_bytes == 0
        silent = silent and not self.transport.is_closing()
        return self.awaited_since if silent else None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Admit the connection (`bridge.web.connections`), then wait for the first head."""
        super().connection_made(transport)
        host = self.client[0] if self.client else None
        self.admitted = self.book.admit(host)
        if not self.admitted:
            log.warning("http.connection_refused client=%s reason=too_many_from_client", host)
            self._refuse("503 Service Unavailable", "too many connections from this address")
            return
        if self.book.admitted > self.limits.max_connections:
            ours = (c for c in self.connections if isinstance(c, GuardedProtocol))
            silent = self.book.place_for(self, ours)
            if silent is None:
                log.warning("http.connection_refused client=%s reason=server_full", host)
                self._refuse("503 Service Unavailable", "the service is at its connection limit")
                return
            log.debug("http.silent_connection_closed client=%s reason=server_full", silent.client)
            silent.transport.close()
        self._await_head()

    def data_received(self, data: bytes) -> None:
        """Parse. Bytes that arrive while a head is awaited are the head's (no body comes
        before its head ends): past `max_head` of them and still no complete head, 431 and
        close. A head that arrives whole and too large is the middleware's 431."""
        if self.head_timer is not None:
            self.head_bytes += len(data)
        super().data_received(data)
        awaited = self.head_timer is not None and not self.transport.is_closing()
        if awaited and self.head_bytes > self.limits.max_head:
            self._refuse_head()

    def on_message_begin(self) -> None:
        """A head begins (for the 408 that a late one gets)."""
        super().on_message_begin()
        self.head_begun = self.in_message = True

    def on_message_complete(self) -> None:
        """A body answered early (a 413) ends here: the next head is awaited from now."""
        self.in_message = False
        super().on_message_complete()
        if self.cycle.response_complete and not self.transport.is_closing():
            self._await_head()

    def on_headers_complete(self) -> None:
        """A complete head stops the timer."""
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """After a response, the next head (if the connection stays) has its own deadline."""
        super().on_response_complete()
        if not self.in_message and not self.transport.is_closing():
            self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the timer and the client's count with the connection."""
        self._stop_head_timer()
        if self.admitted:
            self.admitted = False
            self.book.leave(self.client[0] if self.client else None)
        super().connection_lost(exc)

    def _refuse(self, status: str, text: str) -> None:
        self._stop_head_timer()
        self.transport.write(_plain_response(status, text))
        self.transport.close()

    def _refuse_head(self) -> None:
        text = f"the request head is larger than {self.limits.max_head} bytes"
        self._refuse("431 Request Header Fields Too Large", text)

    def _await_head(self) -> None:
        self._stop_head_timer()
        self.head_bytes = 0
        self.head_begun = False
        self.awaited_since = self.loop.time()
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
        if self.head_begun:
            log.warning(
                "http.head_timeout client=%s received=%d bytes in %gs",
                client,
                self.head_bytes,
                self.limits.head_timeout,
            )
            text = f"the request head did not arrive within {self.limits.head_timeout:g} s"
            self.transport.write(_plain_response("408 Request Timeout", text))
        else:
            log.debug("http.slow_connection_closed client=%s", client)
        self.transport.close()
