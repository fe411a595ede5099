"""The app's limits on a request (installed by `install_limits`): a body that does not arrive
in time gets 408, a head that arrived whole and too large 431 (`bridge.web.server` bounds a head
that arrives in parts); a client gone mid-body costs one log line; one access line a request.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridge.config.logs import access_line
from bridge.web.server import LIMITS, Limits

log = logging.getLogger(__name__)


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
            return  # its one line
        access_line(scope, status)


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    """Answer with `{"detail": ...}` and close the connection."""
    response = JSONResponse({"detail": detail}, status, headers={"connection": "close"})
    await response(scope, receive, send)


def install_limits(app: Starlette, limits: Limits = LIMITS) -> None:
    """Add the body timeout, the head size limit and quiet aborted uploads to the app."""
    app.add_middleware(LimitsMiddleware, limits=limits)
