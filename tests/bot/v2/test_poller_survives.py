"""The imbot.v2 poller never dies and never jams (issue 22, point 9): any exception is
logged, backed off and survived; an event that fails the same way every time is set aside
after a few tries, shown to the operator, and the events behind it go on."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.engine import Engine

from bridge.web import set_aside
from bridge.web.polling import EventPoller
from bridge.web.routes.state import App
from harness.constants import USER_ID
from harness.v2 import portal, v2_messenger, v2_settings, v2_vendors
from harness.vendors import Vendors
from harness.waiting import eventually
from storage.db import transaction
from storage.tables import SurveyState, utcnow
from tests.bot.v2.test_fetching import _invitation, _invite_and_stop
from tests.databases import surveys

pytestmark = pytest.mark.anyio


async def _poll(
    database_url: str, engine: Engine, vendors: Vendors, checkpoint: Callable[[str], None]
) -> EventPoller:
    """Run one poller with `checkpoint` until every fetched event is acknowledged."""
    settings = v2_settings(database_url)
    stop = asyncio.Event()
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        poller = EventPoller(
            App(settings, engine, utcnow), v2_messenger(http, settings), checkpoint=checkpoint
        )
        task = asyncio.create_task(poller.run(stop))
        await eventually(lambda: portal(vendors).queue.pending() == 0 or task.done(), within=30)
        assert not task.done(), "the poller died"
        stop.set()
        await task
    return poller


async def test_an_unexpected_error_is_backed_off_and_survived(
    database_url: str, engine: Engine
) -> None:
    vendors = await v2_vendors(database_url)
    await _invite_and_stop(database_url, engine, vendors, 1)
    (survey,) = surveys(engine)
    portal(vendors).press(_invitation(vendors, survey), USER_ID, button=3)
    crashes = Counter[str]()

    def crash_once(point: str) -> None:
        if point == "before_offset_saved" and not crashes[point]:
            crashes[point] += 1
            raise KeyError("an answer we could not read")

    poller = await _poll(database_url, engine, vendors, crash_once)
    assert crashes["before_offset_saved"] == 1 and poller.failures == 0
    assert surveys(engine)[0].state == SurveyState.RATED


async def test_an_event_that_always_fails_is_set_aside_and_the_rest_go_on(
    database_url: str, engine: Engine
) -> None:
    vendors = await v2_vendors(database_url)
    await _invite_and_stop(database_url, engine, vendors, 3)
    for survey in surveys(engine):
        portal(vendors).press(_invitation(vendors, survey), USER_ID, button=4)
    tries = Counter[str]()
    first: list[str] = []

    def first_event_always_fails(point: str) -> None:
        if point.startswith("handling:"):
            first[:] = first or [point]
            tries[point] += 1
            if point == first[0]:
                raise ValueError("this event breaks our handler")

    await _poll(database_url, engine, vendors, first_event_always_fails)

    (poison,) = first
    assert tries[poison] == set_aside.SET_ASIDE_AFTER
    states = sorted(s.state for s in surveys(engine))
    assert states == [SurveyState.AWAITING, SurveyState.RATED, SurveyState.RATED]
    with transaction(engine) as session:
        (entry,) = set_aside.listed(session)
    assert entry["event_id"] == int(poison.split(":")[1]) and entry["error"] == "ValueError"
    assert "1 fetched event(s) set aside" in set_aside.said([entry])
