"""Calls made at about the same time share one `batch` request (bitrix24.md §7: up to 50
sub-calls, answered with HTTP 200, each sub-call's result under its key or its own error in
`result_error`, and the whole counted once by the portal's limit).

A caller awaits its own call: its answer, or its own error. A failed sub-call fails only its
caller, and the others' answers stand, so nothing is sent twice; a request that failed as a
whole fails each call it carried, and each caller retries its own (from its job).

A call waits while the request that will carry it waits for the portal's budget: when the
budget grants a request, it takes everything waiting (up to 50). So under the portal's limit a
wave of calls becomes a few requests, and with room in the budget a call goes at once. Methods
in `alone` never share a request (imbot.v2's, unless the portal runs them in a batch).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.client import BATCH_LIMIT, BitrixClient
from bot.users import BitrixUser, user_query, users_with_email
from bot.wire import Answer
from outbound.errors import DeliveryError

# Requests on their way at once, each carrying up to 50 calls (the portal grants 2 a second,
# and a burst of 50: senders keep a burst's requests going side by side). As many as a portal's
# requests in flight (BITRIX_MAX_IN_FLIGHT's default): with four, a burst of 1,000 closures
# waited on them: 40 requests of ~0.25 s each, four at a time.
SENDERS = 8
# How long the first call of a quiet moment waits for the calls started with it.
LINGER = 0.005


@dataclass(frozen=True)
class _Call:
    method: str
    params: dict[str, Any]
    outcome: asyncio.Future[Answer]


class SharedCalls:
    """Sends calls through one `BitrixClient`, sharing `batch` requests among them."""

    def __init__(
        self,
        client: BitrixClient,
        *,
        alone: Iterable[str] = (),
        senders: int = SENDERS,
        linger: float = LINGER,
    ) -> None:
        self._client = client
        self._alone = frozenset(method.lower() for method in alone)
        self._senders = senders
        self._linger = linger
        self._waiting: list[_Call] = []
        self._running = 0
        # Senders that will take waiting calls (not holding a request of their own now).
        self._ready = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def answer(self, method: str, params: dict[str, Any]) -> Answer:
        """The call's whole answer (raises its own `DeliveryError`)."""
        call = _Call(method, params, asyncio.get_running_loop().create_future())
        self._waiting.append(call)
        self._start_senders()
        return await call.outcome

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """The call's `result` (raises its own `DeliveryError`)."""
        return (await self.answer(method, params)).result

    async def find_users_by_emails(
        self, emails: Mapping[str, str]
    ) -> dict[str, list[BitrixUser] | DeliveryError]:
        """The active users with each e-mail (key → e-mail), each key its own outcome."""

        async def one(email: str) -> list[BitrixUser] | DeliveryError:
            try:
                return users_with_email(await self.answer("user.get", user_query(email)), email)
            except DeliveryError as exc:
                return exc

        found = await asyncio.gather(*(one(email) for email in emails.values()))
        return dict(zip(emails, found, strict=True))

    def _start_senders(self) -> None:
        while self._running < self._senders and len(self._waiting) > self._ready * BATCH_LIMIT:
            self._running += 1
            self._ready += 1
            task = asyncio.create_task(self._send_while_waiting())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send_while_waiting(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(self._linger)
                try:
                    await self._client.take_budget()
                except Exception as exc:
                    # No request can go (the shared budget's database is away): say so.
                    taken = self._take()
                    _settle(taken, [exc] * len(taken))
                    continue
                taken = self._take()
                if taken:
                    self._ready -= 1
                    try:
                        await self._carry(taken)
                    finally:
                        self._ready += 1
        finally:
            self._running -= 1
            self._ready -= 1

    def _take(self) -> list[_Call]:
        """The calls the next request carries: one that must go alone, or up to 50 others."""
        live = [call for call in self._waiting if not call.outcome.done()]
        if live and live[0].method.lower() in self._alone:
            taken = live[:1]
        else:
            taken = [c for c in live if c.method.lower() not in self._alone][:BATCH_LIMIT]
        chosen = {id(call) for call in taken}
        self._waiting = [call for call in live if id(call) not in chosen]
        return taken

    async def _carry(self, taken: list[_Call]) -> None:
        outcomes: list[Answer | BaseException]
        try:
            if len(taken) == 1:
                outcomes = [await self._client.answer(taken[0].method, taken[0].params, paid=True)]
            else:
                calls = {str(i): (call.method, call.params) for i, call in enumerate(taken)}
                answers = await self._client.batch_answers(calls, paid=True)
                outcomes = [answers[str(i)] for i in range(len(taken))]
        except asyncio.CancelledError:
            for call in taken:
                call.outcome.cancel()
            raise
        except Exception as exc:
            # The request as a whole failed (or could not be read): each call it carried.
            outcomes = [exc] * len(taken)
        _settle(taken, outcomes)


def _settle(taken: list[_Call], outcomes: list[Answer | BaseException]) -> None:
    """Hand each caller its own outcome (a caller that gave up is skipped)."""
    for call, outcome in zip(taken, outcomes, strict=True):
        if call.outcome.done():
            continue
        if isinstance(outcome, BaseException):
            call.outcome.set_exception(outcome)
        else:
            call.outcome.set_result(outcome)
