"""imbot.v2 fetch mode against the fake portal, on SQLite and PostgreSQL: no public address,
no lost click, no click rated twice, one poller across replicas."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy.engine import Engine

from bridge.web.polling import EventPoller
from bridge.web.routes.state import App
from harness.app import running_app
from harness.constants import ISSUE_ID, USER_ID
from harness.payloads import closed_webhook, rest_issue
from harness.v2 import portal, v2_messenger, v2_settings, v2_vendors
from harness.vendors import Vendors
from harness.waiting import eventually
from storage import polling
from storage.db import transaction
from storage.tables import JobKind, Survey, SurveyState, utcnow
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio


class Crash(BaseException):
    """The process dies here (nothing after it runs)."""


def _rates(vendors: Vendors) -> list[str]:
    return [body["rate"] for _issue, body in vendors.okdesk.rate_posts]


def _invitation(vendors: Vendors, survey: Survey) -> int:
    assert survey.message_id is not None
    assert portal(vendors).messages[survey.message_id]["KEYBOARD"] is not None
    return survey.message_id


async def _invite_and_stop(database_url: str, engine: Engine, vendors: Vendors, n: int) -> None:
    """Surveys for `n` tickets, invited through imbot.v2, then the service stops."""
    for issue in range(ISSUE_ID, ISSUE_ID + n):
        vendors.okdesk.issues[issue] = rest_issue(issue)
    async with running_app(v2_settings(database_url), vendors) as app:
        assert app.settings.public_url is None
        for issue in range(ISSUE_ID, ISSUE_ID + n):
            await app.webhook(closed_webhook(issue))
        # Within imbot.v2's 2 requests a second, shared with the poller: one send each.
        await eventually(
            lambda: sum(s.state == SurveyState.AWAITING for s in surveys(engine)) == n, within=30
        )


async def test_a_click_while_the_service_is_stopped_is_rated_after_it_starts_exactly_once(
    database_url: str, engine: Engine
) -> None:
    vendors = await v2_vendors(database_url)
    await _invite_and_stop(database_url, engine, vendors, 1)
    (survey,) = surveys(engine)
    portal(vendors).press(_invitation(vendors, survey), USER_ID, button=3)
    assert portal(vendors).queue.pending() == 1
    async with running_app(v2_settings(database_url), vendors):
        await eventually(lambda: surveys(engine)[0].rating_sent_at is not None, within=30)
        await eventually(lambda: portal(vendors).queue.pending() == 0, within=30)
        message = portal(vendors).messages[survey.message_id or 0]
        await eventually(lambda: message["KEYBOARD"] is None, within=30)
    assert _rates(vendors) == ["good"]
    assert "4" in message["MESSAGE"]


async def test_killed_between_handling_and_acknowledging_each_click_is_rated_once(
    database_url: str, engine: Engine
) -> None:
    vendors = await v2_vendors(database_url)
    await _invite_and_stop(database_url, engine, vendors, 2)
    for survey in surveys(engine):
        portal(vendors).press(_invitation(vendors, survey), USER_ID, button=4)
    settings = v2_settings(database_url)

    def die(point: str) -> None:
        if point == "before_offset_saved":
            raise Crash

    async with httpx.AsyncClient(transport=vendors.transport) as http:
        state = App(settings, engine, utcnow)
        with pytest.raises(Crash):
            await EventPoller(state, v2_messenger(http, settings), checkpoint=die).poll_once()
    assert {s.state for s in surveys(engine)} == {SurveyState.RATED}
    assert portal(vendors).queue.pending() == 2
    async with running_app(settings, vendors):
        await eventually(lambda: portal(vendors).queue.pending() == 0, within=30)
        await eventually(lambda: all(s.rating_sent_at for s in surveys(engine)), within=30)
    assert _rates(vendors) == ["good", "good"]
    # The replay said nothing to anyone: no "already rated" or other reply was queued.
    assert not [job for job in jobs(engine) if job.kind == JobKind.REPLY]


def _counting(handled: Counter[int], replica: int) -> Callable[[str], None]:
    def checkpoint(point: str) -> None:
        if point == "event_handled":
            handled[replica] += 1

    return checkpoint


async def test_two_replicas_poll_and_each_event_is_handled_once(
    database_url: str, engine: Engine
) -> None:
    vendors = await v2_vendors(database_url)
    await _invite_and_stop(database_url, engine, vendors, 3)
    settings = v2_settings(database_url)
    handled: Counter[int] = Counter()
    stop = asyncio.Event()
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        pollers = [
            EventPoller(
                App(settings, engine, utcnow),
                v2_messenger(http, settings),
                checkpoint=_counting(handled, n),
            )
            for n in range(2)
        ]
        tasks = [asyncio.create_task(p.run(stop)) for p in pollers]
        for survey in surveys(engine):
            portal(vendors).press(_invitation(vendors, survey), USER_ID, button=0)
            await asyncio.sleep(0.05)
        await eventually(lambda: portal(vendors).queue.pending() == 0, within=30)
        stop.set()
        await asyncio.gather(*tasks)
    assert sum(handled.values()) == 3
    assert {s.state for s in surveys(engine)} == {SurveyState.RATED}


async def test_a_bot_deleted_in_the_portal_shows_in_readiness(
    database_url: str, engine: Engine
) -> None:
    vendors = await v2_vendors(database_url)
    fake = portal(vendors)
    async with running_app(v2_settings(database_url), vendors) as app:
        await eventually(lambda: fake.calls)
        bot_id = next(iter(fake.bots))
        fake.bots.pop(bot_id)
        ready = await app.client.get("/readyz")

        async def deleted() -> bool:
            body = (await app.client.get("/readyz")).json()
            return "deleted" in body["checks"]["bot"]

        await eventually(deleted, within=30)
    assert ready.status_code in (200, 503)


def _offset_stored(engine: Engine, bot_id: int) -> bool:
    with transaction(engine) as session:
        return polling.stored_offset(session, bot_id=bot_id) is not None


def _event_gets(vendors: Vendors) -> int:
    return sum(name == "imbot.v2.event.get" for name, _ in portal(vendors).calls)


async def test_with_more_events_waiting_the_next_event_get_comes_no_sooner_than_two_seconds(
    database_url: str, engine: Engine
) -> None:
    """bitrix24.md §13: after `hasMore`, "a minimum pause of two seconds" before the next
    Event.get. Counted, not timed: in the second after the first call, no second call."""
    vendors = await v2_vendors(database_url)
    fake = portal(vendors)
    bot_id = next(iter(fake.bots))
    for n in range(150):  # more than one Event.get's 100
        fake.type_message(bot_id, USER_ID, f"привет {n}")
    settings = v2_settings(database_url)
    stop = asyncio.Event()
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        poller = EventPoller(App(settings, engine, utcnow), v2_messenger(http, settings))
        task = asyncio.create_task(poller.run(stop))
        await eventually(lambda: _offset_stored(engine, bot_id), within=30)  # round one done
        await asyncio.sleep(1.0)
        after_first = _event_gets(vendors)
        await eventually(lambda: fake.queue.pending() == 0, within=30)
        stop.set()
        await task
    assert after_first == 1
    assert _event_gets(vendors) >= 2
