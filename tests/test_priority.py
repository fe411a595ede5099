"""Intake first (bridge/priority.py): the worker's next step waits while a request is being
answered, but never for good, and steps that waited go ahead one at a time."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bridge.priority import IntakeFirst, YieldingTransport

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


async def test_under_a_flood_steps_still_go_one_at_a_time() -> None:
    priority = IntakeFirst(max_wait=0.05, spacing=0.4)
    passed: list[int] = []

    async def step(number: int) -> None:
        await priority.wait_turn()
        passed.append(number)

    with priority.serving():  # requests never stop coming
        steps = [asyncio.create_task(step(number)) for number in range(3)]
        await asyncio.sleep(0.15)  # the bound passed: one step went ahead, not all three
        assert len(passed) == 1
        await asyncio.wait_for(asyncio.gather(*steps), 5)
    assert sorted(passed) == [0, 1, 2]


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
