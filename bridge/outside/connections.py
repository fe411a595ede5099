"""A vendor's connections: HTTP/1.1, kept alive, spoken by aiohttp under httpx's API.

The clients keep httpx (its requests, answers, timeouts and errors, and the tests' transports);
only the wire beneath changes. httpx's own transport (httpcore on anyio) took ~2.4 ms of CPU for
a small JSON answer on loopback, with its pool's bookkeeping and a check of each kept socket
on every request; aiohttp, with its HTTP parser in C, ~0.6 ms. In a soak's profile Okdesk's
requests went from 36 % of the service's CPU to 6 % (docs/benchmark.md, the second round).

Every failure on the way becomes the httpx error the retry rules read
(`outbound.transient`): a timeout `httpx.TimeoutException`, anything else
`httpx.TransportError`. Its message names the kind of failure only: aiohttp's own messages
carry the URL, and a URL carries Okdesk's API token or the portal's webhook secret.
"""

from __future__ import annotations

import functools
import ssl

import aiohttp
import httpx
from multidict import CIMultiDict
from yarl import URL

# Seconds an idle connection is kept (servers keep theirs 60–75 s; ours closes first).
KEEP_ALIVE = 30.0


class KeptConnections(httpx.AsyncBaseTransport):
    """Up to `connections` connections to each server, kept alive between requests; the
    session opens with the first request (it belongs to the running event loop). Every
    answer comes back with its body read."""

    def __init__(self, connections: int) -> None:
        self._connections = connections
        self._tls = certificates()
        self._session: aiohttp.ClientSession | None = None

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._connections,
                limit_per_host=self._connections,
                keepalive_timeout=KEEP_ALIVE,
                ssl=self._tls,
            )
            # httpx keeps the cookies and decodes the bodies, as it did over its own pool.
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        try:
            async with self._opened().request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=CIMultiDict(request.headers.multi_items()),
                data=body or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as answer:
                content = await answer.read()
        except TimeoutError as exc:
            raise _timed_out(exc, request) from None
        except aiohttp.ClientError as exc:
            raise _failed(exc, request) from None
        response = httpx.Response(
            answer.status,
            headers=answer.raw_headers,
            stream=httpx.ByteStream(content),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": _ascii(answer.reason)},
        )
        # Read (and decoded) here, its connection already back in the pool: the request's
        # place under the cap is free at once (`in_flight._holding`), and the client's own
        # read finds it done, with no async stream to walk through.
        response.read()
        return response

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@functools.cache
def certificates() -> ssl.SSLContext:
    """The TLS settings and trusted certificates every pool of the process shares. Loading
    the certificates takes 30–60 ms of CPU: once, before the first request, not on the event
    loop at the first request to each vendor and portal, in the middle of a burst."""
    return httpx.create_ssl_context()


def _ascii(reason: str | None) -> bytes:
    return (reason or "").encode("ascii", "replace")


def _timed_out(exc: TimeoutError, request: httpx.Request) -> httpx.TimeoutException:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(type(exc).__name__, request=request)
    return httpx.ReadTimeout(type(exc).__name__, request=request)


def _failed(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(type(exc).__name__, request=request)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return httpx.ReadError(type(exc).__name__, request=request)
    return httpx.RemoteProtocolError(type(exc).__name__, request=request)
