"""A renamed portal: Bitrix24 answers a request at the old domain with a redirect to the new
one, and the client follows at most one redirect, only to a `*.bitrix24.*` host
(bitrix24-portals.md §3; `member_id` stays, the domain changes).

Every other redirect is still a failure, never followed (reliability.md P11): the webhook's
code is its secret, so it goes only to an https `*.bitrix24.*` host, at the same path (the same
webhook and method), once per request. After one such answer the old host is never asked again
by this process: its requests go to the new host at once, and `on_renamed` is told, so the
portal's stored domain and webhook follow (`bridge.outside.portals.renamed`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import httpx

log = logging.getLogger(__name__)
# A Bitrix24 cloud portal's host: name.bitrix24.ru, name.bitrix24.com.br, name.bitrix24.de…
BITRIX24_HOST = re.compile(r"[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*\.bitrix24(\.[a-z]{2,}){1,2}")
REDIRECTS = frozenset({301, 302, 307, 308})


def new_host(request: httpx.Request, response: httpx.Response) -> str | None:
    """The portal's new host when `response` is the redirect a renamed portal gives, else None."""
    if response.status_code not in REDIRECTS or "location" not in response.headers:
        return None
    try:
        target = httpx.URL(response.headers["location"])
    except httpx.InvalidURL:
        return None
    host = target.host.lower()
    if target.scheme != "https" or not BITRIX24_HOST.fullmatch(host):
        return None
    if target.port not in (None, 443) or target.raw_path != request.url.raw_path:
        return None
    return None if host == request.url.host else host


class RenamedPortals(httpx.AsyncBaseTransport):
    """Sends requests on, following a renamed portal's one redirect (and remembering it)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, on_renamed: Callable[[str, str], Awaitable[None]]
    ) -> None:
        self._inner = inner
        self._on_renamed = on_renamed
        self._moved: dict[str, str] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The answer of the portal, at its new host once it said it moved."""
        moved = self._moved.get(request.url.host)
        if moved is not None:
            request = _to(request, moved)
        response = await self._inner.handle_async_request(request)
        host = new_host(request, response)
        if host is None:
            return response
        await response.aclose()
        old = request.url.host
        self._moved[old] = host
        log.warning("bitrix.portal_renamed from=%s to=%s", old, host)
        await self._on_renamed(old, host)
        return await self._inner.handle_async_request(_to(request, host))

    async def aclose(self) -> None:
        """Close the transport underneath."""
        await self._inner.aclose()


def _to(request: httpx.Request, host: str) -> httpx.Request:
    """The same request, to `host` over https."""
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
    url = request.url.copy_with(scheme="https", host=host, port=None)
    return httpx.Request(
        request.method, url, headers=headers, content=request.content, extensions=request.extensions
    )
