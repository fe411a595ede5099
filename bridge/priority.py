"""Intake first: while Okdesk or Bitrix24 waits for an answer, the worker waits its turn.

The web routes and the worker share one process, so one interpreter lock: every vendor call
the worker makes (an HTTP round of its own, a budget transaction, a settling transaction)
takes CPU from the requests being answered. An answer is what a sender times out on and
retries; an invitation sent half a second later is the same invitation. So the worker's next
step (its next claim, its next vendor call) waits while any intake request is being served,
and until none has been for `settle` (10 ms: the gap between two webhooks of a burst), but never
more than `max_wait` at a time, and then one step every `spacing`: under a flood of
webhooks the worker slows to a trickle (at most 50 steps a second), it does not stop, and it
does not wake all at once either (thirty vendor calls at one moment stall the answers too).

Measured with `python -m bench` (README, "Measured figures"): with the worker inviting 500
tickets, the webhook answers' p99 was several times their p99 with the worker off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

INTAKE_PREFIX = "/api/v1/"
MAX_WAIT = 0.5
SPACING = 0.02
SETTLE = 0.01


class IntakeFirst:
    """Counts the intake requests being served; the worker's steps wait until none is."""

    def __init__(
        self, max_wait: float = MAX_WAIT, spacing: float = SPACING, settle: float = SETTLE
    ) -> None:
        self._max_wait = max_wait
        self._spacing = spacing
        self._settle = settle
        self._last_pass = 0.0
        self._last_served = -settle
        self._serving = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around one intake request."""
        self._serving += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._serving -= 1
            if self._serving == 0:
                self._last_served = time.monotonic()
                self._quiet.set()

    async def wait_turn(self) -> None:
        """Return once no intake request has been served for `settle` (a gap between two
        webhooks of a burst is not a pause); or, while they go on, after `max_wait`, and
        `spacing` after the last step that went ahead while they did."""
        began = now = time.monotonic()
        while self._serving or now - self._last_served < self._settle:
            turn = max(began + self._max_wait, self._last_pass + self._spacing)
            if now >= turn:
                self._last_pass = now
                break
            if self._serving:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), turn - now)
            else:
                await asyncio.sleep(min(turn, self._last_served + self._settle) - now)
            now = time.monotonic()


class IntakeMiddleware:
    """Marks the intake routes (`/api/v1/...`) as being served while they run."""

    def __init__(self, app: ASGIApp, priority: IntakeFirst) -> None:
        self.app = app
        self.priority = priority

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(INTAKE_PREFIX):
            await self.app(scope, receive, send)
            return
        with self.priority.serving():
            await self.app(scope, receive, send)


class YieldingTransport(httpx.AsyncBaseTransport):
    """The worker's HTTP transport: each request waits for its turn, then goes out."""

    def __init__(self, inner: httpx.AsyncBaseTransport, priority: IntakeFirst) -> None:
        self._inner = inner
        self._priority = priority

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._priority.wait_turn()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
