"""Bitrix24 errors that are not throttling (SQLite and PostgreSQL): a portal blocked by hand
(OVERLOAD_LIMIT) gets nothing but a probe now and then, says so in readiness, and resumes by
itself; an OPERATION_TIME_LIMIT waits until the portal's `operating_reset_at`."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bridge.outside.vendors import HEADROOM, BudgetShape, budget_shape
from harness.app import running_app
from harness.payloads import closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage import budget
from storage.db import transaction
from storage.tables import JobKind, SurveyState, utcnow
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio


async def test_a_blocked_portal_is_probed_not_hammered_and_resumes_by_itself(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    for issue_id in (9601, 9602, 9603):
        vendors.okdesk.issues[issue_id] = rest_issue(issue_id)
    vendors.bitrix.overloaded = True
    settings = make_settings(database_url, bitrix_block_probe_interval="1s")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook(9601))

        async def blocked() -> bool:
            ready = await app.client.get("/readyz")
            return ready.status_code == 503 and "OVERLOAD_LIMIT" in ready.json()["checks"]["portal"]

        await eventually(blocked)
        before = vendors.bitrix.http_requests
        for issue_id in (9602, 9603):
            await app.webhook(closed_webhook(issue_id))
        await asyncio.sleep(2.5)
        during = vendors.bitrix.http_requests - before
        assert all(s.state == SurveyState.INVITING for s in surveys(engine))
        vendors.bitrix.overloaded = False
        await eventually(lambda: all(s.state == SurveyState.AWAITING for s in surveys(engine)))
        ready = await app.client.get("/readyz")
    # About one probe a second, not a retry storm (three jobs would otherwise retry every
    # 10-50 ms with the test's backoff).
    assert 1 <= during <= 6, during
    assert ready.json()["checks"]["portal"] == "ok"
    assert len(vendors.bitrix.messages) == 3
    assert all(j.state == "done" for j in jobs(engine) if j.kind == JobKind.INVITE)


async def test_operation_time_limit_waits_until_the_portal_resets(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    reset_at = int(time.time()) + 120
    vendors.bitrix.operating_reset_at = reset_at
    vendors.bitrix.fail("imbot.message.add", "OPERATION_TIME_LIMIT")
    settings = make_settings(database_url, retry_cap="10m")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: jobs(engine)[0].last_error is not None)
    (invite,) = jobs(engine)
    assert invite.last_error is not None and "OPERATION_TIME_LIMIT" in invite.last_error
    wait = invite.available_at - utcnow()
    assert timedelta(seconds=100) < wait <= timedelta(seconds=125), wait


async def test_the_portals_own_refusal_empties_the_shared_budget_for_every_replica(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    """The budget spends the portal's documented rate in full and its burst but one request
    (room for a request slower on its way than the next); when the portal still answers
    QUERY_LIMIT_EXCEEDED (another application on it), nothing more is granted until it drains."""
    settings = make_settings(database_url)
    shape = budget_shape(settings)
    left = budget_left(engine, shape)
    assert left == settings.bitrix_burst - HEADROOM == 49
    assert shape.per_second == settings.bitrix_requests_per_second
    vendors.okdesk.issues[9701] = rest_issue(9701)
    vendors.bitrix.fail("user.get", "QUERY_LIMIT_EXCEEDED")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook(9701))
        await eventually(lambda: vendors.bitrix.rejected_for_limit == 1)
        await eventually(lambda: budget_left(engine, shape) < 1.5)
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING, within=30)


def budget_left(engine: Engine, shape: BudgetShape) -> float:
    """Requests the shared budget would grant now."""
    with transaction(engine) as session:
        return budget.tokens_left(
            session,
            name=shape.name,
            now=time.time(),
            burst=shape.burst,
            per_second=shape.per_second,
        )
