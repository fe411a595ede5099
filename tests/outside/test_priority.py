"""Intake first (bridge/outside/priority.py): the worker's next step waits while an accepted
request is being answered (a refused one, which needs no secret, never makes it wait), but never for
good, and steps that waited go ahead one at a time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from bridge.outside.in_flight import in_line
from bridge.outside.priority import IntakeFirst, YieldingTransport
from harness.app import Running, running_app
from harness.constants import WEBHOOK_TOKEN
from harness.payloads import closed_webhook
from harness.senders import EVENTS, WEBHOOK
from harness.vendors import make_settings, seeded_vendors

pytestmark = pytest.mark.anyio


async def test_with_no_request_being_answered_the_worker_goes_at_once() -> None:
    priority = IntakeFirst(max_wait=60)
    await asyncio.wait_for(priority.wait_turn(), 1)


async def test_a_step_waits_until_the_requests_being_answered_are_done() -> None:
    priority = IntakeFirst(max_wait=60)
    with priority.serving():
        step = asyncio.create_task(priority.wait_turn())
        with priority.serving():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert not step.done()  # one request is still being answered
    await asyncio.wait_for(step, 1)


def _noting(
    priority: IntakeFirst, passed: list[float]
) -> Callable[[float], Coroutine[Any, Any, None]]:
    """A worker's step: it waits its turn, then notes its mark in `passed`."""

    async def step(mark: float) -> None:
        await priority.wait_turn()
        passed.append(mark)

    return step


async def test_under_a_flood_steps_still_go_one_at_a_time() -> None:
    priority = IntakeFirst(max_wait=0.05, spacing=0.4)
    passed: list[float] = []
    step = _noting(priority, passed)

    with priority.serving():  # requests never stop coming
        steps = [asyncio.create_task(step(number)) for number in range(3)]
        await asyncio.sleep(0.15)  # the bound passed: one step went ahead, not all three
        assert len(passed) == 1
        await asyncio.wait_for(asyncio.gather(*steps), 5)
    assert sorted(passed) == [0, 1, 2]


async def test_under_a_flood_an_older_batchs_steps_go_first() -> None:
    priority = IntakeFirst(max_wait=0.05, spacing=0.05)
    passed: list[float] = []
    step = _noting(priority, passed)

    with priority.serving():  # requests never stop coming
        steps = []
        for place in (3.0, 1.0, 2.0, 1.0):  # the batches began at 1.0, 2.0 and 3.0
            with in_line(place):
                steps.append(asyncio.create_task(step(place)))
        await asyncio.wait_for(asyncio.gather(*steps), 5)
    assert passed == [1.0, 1.0, 2.0, 3.0]


async def test_a_step_given_up_while_waiting_takes_no_turn() -> None:
    priority = IntakeFirst(max_wait=0.05, spacing=0.3)
    with priority.serving():
        gone = asyncio.create_task(priority.wait_turn())
        kept = asyncio.create_task(priority.wait_turn())
        await asyncio.sleep(0.01)
        gone.cancel()
        # The first turn comes after `max_wait` and is the kept step's, not a lost one.
        await asyncio.wait_for(kept, 0.25)


async def test_the_worker_transport_waits_for_its_turn_before_sending() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200)

    priority = IntakeFirst(max_wait=60)
    transport = YieldingTransport(httpx.MockTransport(handler), priority)
    async with httpx.AsyncClient(transport=transport) as client:
        with priority.serving():
            call = asyncio.create_task(client.get("https://okdesk.example/api/v1/issues/1"))
            await asyncio.sleep(0.05)
            assert sent == []
        assert (await asyncio.wait_for(call, 1)).status_code == 200
    assert sent == ["https://okdesk.example/api/v1/issues/1"]


async def test_a_gap_between_two_webhooks_is_not_a_pause() -> None:
    priority = IntakeFirst(max_wait=60, settle=0.3)
    with priority.serving():
        step = asyncio.create_task(priority.wait_turn())
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert not step.done()  # the intake was quiet for less than `settle`
    with priority.serving():
        await asyncio.sleep(0.01)
    await asyncio.wait_for(step, 2)  # and then it was quiet long enough


# --- only accepted intake counts (issue 23, point 6) -----------------------------------------


async def _busy_while_answering(app: Running, path: str, query: bytes, body: bytes) -> bool:
    """Send one request straight to the app; whether the worker had to wait while its answer
    was being sent (the request still in flight)."""
    assert isinstance(app.app, FastAPI)
    priority: IntakeFirst = app.app.state.intake_first
    busy: list[bool] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            busy.append(priority.busy)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query, "client": ("203.0.113.9", 4000), "server": ("rating.test", 80),
        "headers": [(b"host", b"rating.test"), (b"content-type", b"application/json")],
    }  # fmt: skip
    await app.app(scope, receive, send)
    assert not priority.busy  # and nothing is left counted once it was answered
    return busy == [True]


async def test_a_refused_request_does_not_make_the_worker_wait(database_url: str) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    body = json.dumps(closed_webhook()).encode()
    async with running_app(settings, seeded_vendors()) as app:
        wrong = await _busy_while_answering(app, WEBHOOK, b"token=wrong-token-000000", body)
        unread = await _busy_while_answering(app, WEBHOOK, f"token={WEBHOOK_TOKEN}".encode(), b"{")
        events = await _busy_while_answering(app, EVENTS, b"token=wrong", b"")
        accepted = await _busy_while_answering(
            app, WEBHOOK, f"token={WEBHOOK_TOKEN}".encode(), body
        )
    assert (wrong, unread, events) == (False, False, False)
    assert accepted  # an accepted webhook does make it wait
