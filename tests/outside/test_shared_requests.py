"""Chat calls made at about the same time share `batch` requests (bitrix24.md §7), each keeping
its own outcome, and each vendor's requests in flight stay within their cap. On both databases,
through the app and the fakes, counted at the fakes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from harness.app import Running, running_app
from harness.payloads import click_body, closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import JobKind, JobState, SurveyState
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio

TICKETS = list(range(7001, 7013))
# A budget that grants one request at once, then two a second: calls made meanwhile pile up.
TIGHT = {"bitrix_burst": 1, "bitrix_requests_per_second": 2.0}


async def _invite(app: Running, vendors: Vendors, engine: Engine) -> None:
    for ticket in TICKETS:
        vendors.okdesk.issues[ticket] = rest_issue(ticket)
    for ticket in TICKETS:
        assert (await app.webhook(closed_webhook(ticket))).status_code == 200
    await eventually(lambda: _in_state(engine, SurveyState.AWAITING), within=30)


async def _click_all(app: Running, engine: Engine) -> None:
    clicks = [app.event(click_body(f"{s.token}:5")) for s in surveys(engine)]
    assert {answer.status_code for answer in await asyncio.gather(*clicks)} == {200}


def _in_state(engine: Engine, state: SurveyState) -> bool:
    found = surveys(engine)
    return len(found) == len(TICKETS) and all(s.state == state for s in found)


def _all_thanked(engine: Engine) -> bool:
    closing = [j for j in jobs(engine) if j.kind == JobKind.CLOSE_INVITATION]
    return len(closing) == len(TICKETS) and all(j.state == JobState.DONE for j in closing)


def _edits_per_request(vendors: Vendors) -> list[int]:
    """For each request that carried thank-you edits, in order, how many it carried."""
    carried: list[int] = []
    calls = iter(vendors.bitrix.calls)
    for method, params in calls:
        if method == "batch":
            inside = [next(calls)[0] for _ in params["cmd"]]
            edits = inside.count("imbot.message.update")
        else:
            edits = int(method == "imbot.message.update")
        if edits:
            carried.append(edits)
    return carried


def _updates(vendors: Vendors) -> Counter[int]:
    """How often each message was edited (every call the fake ran, batched or alone)."""
    return Counter(int(params["MESSAGE_ID"]) for params in vendors.calls("imbot.message.update"))


async def test_thank_yous_of_many_clicks_share_requests(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url, **TIGHT), vendors) as app:
        await _invite(app, vendors, engine)
        before = vendors.bitrix.http_requests
        await _click_all(app, engine)
        await eventually(lambda: _all_thanked(engine), within=30)
        requests = vendors.bitrix.http_requests - before
    invitations = {s.message_id for s in surveys(engine) if s.message_id is not None}
    assert _updates(vendors) == Counter(dict.fromkeys(invitations, 1))
    assert all(vendors.bitrix.messages[m]["KEYBOARD"] is None for m in invitations)
    # Twelve thank-yous in a few requests, not twelve.
    assert requests <= 3
    assert sum(_edits_per_request(vendors)) == len(TICKETS)


async def test_a_failed_command_in_a_batch_is_retried_alone_and_the_others_stand(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url, **TIGHT), vendors) as app:
        await _invite(app, vendors, engine)
        # The first thank-you edit the portal runs fails on its own (HTTP 200 for the batch).
        vendors.bitrix.fail("imbot.message.update", "INTERNAL_SERVER_ERROR")
        await _click_all(app, engine)
        await eventually(lambda: _all_thanked(engine), within=30)
    invitations = {s.message_id for s in surveys(engine) if s.message_id is not None}
    edits = _updates(vendors)
    assert sorted(edits.values()) == [1] * (len(TICKETS) - 1) + [2]
    assert set(edits) == invitations
    # The failed edit was one of several in a batch; only it went again.
    carried = _edits_per_request(vendors)
    assert carried[0] > 1 and sum(carried) == len(TICKETS) + 1
    attempts = sorted(j.attempts for j in jobs(engine) if j.kind == JobKind.CLOSE_INVITATION)
    assert attempts == [1] * (len(TICKETS) - 1) + [2]
    assert all(vendors.bitrix.messages[m]["KEYBOARD"] is None for m in invitations)


class _Concurrency(httpx.AsyncBaseTransport):
    """Counts the requests on their way at once to the fake behind it."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.now = self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


async def test_okdesk_requests_in_flight_never_pass_the_cap(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    okdesk = _Concurrency(vendors.transport.routes["acme.okdesk.ru"])
    vendors.transport.routes["acme.okdesk.ru"] = okdesk
    vendors.okdesk.latency = 0.05
    settings: dict[str, Any] = {"okdesk_max_in_flight": 3}
    async with running_app(make_settings(database_url, **settings), vendors) as app:
        await _invite(app, vendors, engine)
    # Twelve invitations read twelve tickets at once, three at a time.
    assert okdesk.most == 3
