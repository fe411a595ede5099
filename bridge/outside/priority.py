"""Intake first: while Okdesk or Bitrix24 waits for an answer, the worker waits its turn.

The web routes and the worker share one process, so one interpreter lock: every vendor call
the worker makes (an HTTP round of its own, a budget transaction, a settling transaction)
takes CPU from the requests being answered. An answer is what a sender times out on and
retries; an invitation sent half a second later is the same invitation. So the worker's next
step (its next claim, its next vendor call) waits while any intake request is being served,
and until none has been for `settle` (10 ms: the gap between two webhooks of a burst), but never
more than `max_wait` at a time, and then one step every `spacing`: under a flood of
webhooks the worker slows to a trickle (at most 100 steps a second: one batch of invitations,
its 100 Okdesk reads, a second, so the portal's budget of 2 requests a second is spent while the
webhooks come in), it does not stop, and it does not wake all at once either (thirty vendor
calls at one moment stall the answers too). The steps wait in line, an older invitation batch's
first (`bridge.outside.in_flight.in_line`): taken in any order, the trickle spread over every
batch started before the flood, and none finished until nearly all had (10,000 closures: the
first ~1,100 surveys invited only after the 16 s of webhooks, the portal's budget idle).
Bitrix24 calls pass the gate (`bridge.outside.vendors`): the portal's budget paces them, and
a request the budget granted that then waited here would be a request lost from the budget.

Measured with `python -m bench` (README, "Measured figures"): with the worker inviting 500
tickets, the webhook answers' p99 was several times their p99 with the worker off.

Only authenticated, accepted intake counts: a route calls `intake_accepted(request)` once the
request passed its checks (secret, type, shape), and it counts from then until answered.
Counting every request under /api/v1 let a flood of 401s, which needs no secret, slow
click → Okdesk from 72 ms to 1,532 ms p50 (issue 23, point 6).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Iterator

import httpx
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.config.logs import INTAKE_PREFIX
from bridge.outside.in_flight import place_in_line

_ACCEPTED = "intake_first.accepted"
MAX_WAIT = 0.5
SPACING = 0.01
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
        # The steps waiting their turn: (place in line, arrival, turn); since when one has.
        self._line: list[tuple[float, int, asyncio.Future[None]]] = []
        self._line_since = 0.0
        self._arrivals = itertools.count()
        self._keeper: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def serving(self) -> Iterator[None]:
        """Around one accepted intake request."""
        self.begin()
        try:
            yield
        finally:
            self.end()

    def begin(self) -> None:
        """An accepted intake request is being served."""
        self._serving += 1
        self._quiet.clear()

    def end(self) -> None:
        """It was answered."""
        self._serving -= 1
        if self._serving == 0:
            self._last_served = time.monotonic()
            self._quiet.set()

    @property
    def busy(self) -> bool:
        """Whether an accepted intake request is being served now."""
        return self._serving > 0

    async def wait_turn(self) -> None:
        """Return once no intake request has been served for `settle` (a gap between two
        webhooks of a burst is not a pause); or, while they go on, in line: the first step
        after `max_wait`, then one every `spacing`, an older batch's before a newer's (the
        place `bridge.outside.in_flight.in_line` gives), so that batches finish one after
        another under a flood instead of all at its end."""
        if not self._line and not self._held(time.monotonic()):
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self._line:
            self._line_since = time.monotonic()
        heapq.heappush(self._line, (place_in_line(), next(self._arrivals), turn))
        keeper = self._keeper
        if keeper is None or keeper.done() or keeper.get_loop() is not turn.get_loop():
            self._keeper = asyncio.create_task(self._keep_line())
        await turn

    def _held(self, now: float) -> bool:
        return self._serving > 0 or now - self._last_served < self._settle

    async def _keep_line(self) -> None:
        """Give the steps waiting their turns, first in line first, until none waits."""
        while self._line:
            now = time.monotonic()
            if not self._held(now):
                self._give(len(self._line))
                return
            turn = max(self._line_since + self._max_wait, self._last_pass + self._spacing)
            if now >= turn:
                self._last_pass = now
                self._give(1)
            elif self._serving:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), turn - now)
            else:
                await asyncio.sleep(min(turn, self._last_served + self._settle) - now)

    def _give(self, steps: int) -> None:
        """The first `steps` in line that still wait go ahead (a cancelled one, or one left
        by an event loop that has ended, is skipped)."""
        while steps and self._line:
            _, _, turn = heapq.heappop(self._line)
            if not turn.done() and not turn.get_loop().is_closed():
                turn.set_result(None)
                steps -= 1


class _Accepted:
    """One intake request: counted from `mark()` (its route accepted it) until answered."""

    def __init__(self, priority: IntakeFirst) -> None:
        self.priority = priority
        self.counted = False

    def mark(self) -> None:
        if not self.counted:
            self.counted = True
            self.priority.begin()


def intake_accepted(request: Request) -> None:
    """The request passed its route's checks: until it is answered, the worker waits."""
    accepted = request.scope.get("state", {}).get(_ACCEPTED)
    if isinstance(accepted, _Accepted):
        accepted.mark()


class IntakeMiddleware:
    """Lets the intake routes (`/api/v1/...`) count as being served once they accept one."""

    def __init__(self, app: ASGIApp, priority: IntakeFirst) -> None:
        self.app = app
        self.priority = priority

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(INTAKE_PREFIX):
            await self.app(scope, receive, send)
            return
        accepted = _Accepted(self.priority)
        scope.setdefault("state", {})[_ACCEPTED] = accepted
        try:
            await self.app(scope, receive, send)
        finally:
            if accepted.counted:
                self.priority.end()


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
