"""Giving up counts from the first failure; what an administrator retries afterwards is sent
once; a redirect to another host is a failure and is not followed."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.worker.retrying import retry_failed
from harness.app import running_app
from harness.clock import ManualClock
from harness.constants import WEBHOOK_PATH
from harness.payloads import click_body, closed_webhook
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import JobState, SurveyState, utcnow
from tests.databases import surveys
from tests.outages.queue import CONTACTS, RATES, invite_jobs, invited, okdesk_requests, survey_state

GAVE_UP = re.compile(r"gave up after (\d+) tries: (.*)")


@pytest.mark.anyio
async def test_give_up_time_counts_from_the_first_failure_not_from_intake(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    clock = ManualClock()
    async with running_app(
        make_settings(database_url, worker_enabled=False), vendors, clock=clock
    ) as app:
        await app.webhook(closed_webhook())
    clock.now += timedelta(seconds=2)
    vendors.bitrix.fail("imbot.message.add", 503)
    settings = make_settings(database_url, retry_give_up_after="1s")
    async with running_app(settings, vendors, clock=clock):
        await eventually(lambda: invite_jobs(engine)[0].last_error is not None)
        (invite,) = invite_jobs(engine)
        assert invite.state == JobState.PENDING, surveys(engine)[0].reason
        clock.now = invite.available_at
        await eventually(lambda: survey_state(engine) == SurveyState.AWAITING)
    assert len(vendors.bitrix.messages) == 1


@pytest.mark.anyio
async def test_invitation_given_up_then_retried_by_the_administrator_is_sent_once(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.fail("imbot.message.add", *([503] * 1000))
    settings = make_settings(database_url, retry_give_up_after="1s")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: survey_state(engine) == SurveyState.FAILED)
    found = GAVE_UP.fullmatch(surveys(engine)[0].reason or "")
    assert found is not None, surveys(engine)[0].reason
    assert found[2] == "Bitrix24 imbot.message.add: HTTP 503 QUERY_LIMIT_EXCEEDED"
    (invite,) = invite_jobs(engine)
    tries = int(found[1])
    assert invite.state == JobState.FAILED and invite.attempts == tries > 1
    assert len(vendors.calls("imbot.message.add")) == tries
    assert vendors.bitrix.messages == {}

    vendors.bitrix.fail_next.clear()
    assert retry_failed(engine, settings, utcnow()) == (1, [])
    async with running_app(settings, vendors):
        await eventually(lambda: survey_state(engine) == SurveyState.AWAITING)
        await asyncio.sleep(0.2)
    assert len(vendors.bitrix.messages) == 1
    assert len(vendors.calls("imbot.message.add")) == tries + 1
    assert invite_jobs(engine)[0].state == JobState.DONE


@pytest.mark.anyio
async def test_rating_given_up_then_retried_by_the_administrator_is_posted_once(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, retry_give_up_after="1s")
    async with running_app(settings, vendors) as app:
        token = await invited(app, engine)
        vendors.okdesk.fail("rate", *([503] * 1000))
        await app.event(click_body(f"{token}:2"))
        await eventually(lambda: survey_state(engine) == SurveyState.FAILED)
    found = GAVE_UP.fullmatch(surveys(engine)[0].reason or "")
    assert found is not None and found[2] == "Okdesk rating: HTTP 503"
    assert vendors.okdesk.rate_posts == []

    vendors.okdesk.fail_next.clear()
    assert retry_failed(engine, settings, utcnow()) == (1, [])
    async with running_app(settings, vendors):
        await eventually(lambda: surveys(engine)[0].rating_sent_at is not None)
        await asyncio.sleep(0.2)
    survey = surveys(engine)[0]
    assert survey.state == SurveyState.RATED and survey.okdesk_rate == "bad"
    assert [body["rate"] for _, body in vendors.okdesk.rate_posts] == ["bad"]
    assert okdesk_requests(vendors, "POST", RATES) == int(found[1]) + 1


# --- redirects --------------------------------------------------------------------------------


@dataclass
class Redirecting:
    """Answers 302 to another host on one path; passes everything else to the fake."""

    app: ASGIApp
    path: str
    location: str
    redirected: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            self.redirected += 1
            await RedirectResponse(self.location, status_code=302)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


@dataclass
class Elsewhere:
    """The redirect's target: it must never be asked anything."""

    requests: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.requests += 1
        await JSONResponse({"result": 1, "id": 11771, "email": "x@evil.example"})(
            scope, receive, send
        )


@pytest.mark.anyio
@pytest.mark.parametrize("vendor", ["bitrix", "okdesk"])
async def test_redirect_to_another_host_is_a_failure_and_not_followed(
    database_url: str, engine: Engine, vendors: Vendors, vendor: str
) -> None:
    elsewhere = Elsewhere()
    if vendor == "bitrix":
        host, fake_app, path = "acme.bitrix24.ru", vendors.bitrix.app, "imbot.message.add"
        redirecting = Redirecting(fake_app, WEBHOOK_PATH + path, "https://evil.example/rest/x")
        where = "Bitrix24 imbot.message.add: HTTP 302"
    else:
        host, fake_app = "acme.okdesk.ru", vendors.okdesk.app
        redirecting = Redirecting(fake_app, CONTACTS, "https://evil.example/api/v1/contacts/")
        where = "Okdesk contact lookup: HTTP 302"
    vendors.transport.routes[host] = httpx.ASGITransport(app=redirecting)
    vendors.transport.routes["evil.example"] = httpx.ASGITransport(app=elsewhere)
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: survey_state(engine) == SurveyState.FAILED)
        await asyncio.sleep(0.2)
    assert (surveys(engine)[0].reason or "").startswith(where)
    assert redirecting.redirected == 1
    assert elsewhere.requests == 0
    assert vendors.transport.unexpected == []
    assert vendors.bitrix.messages == {}
