"""Transient answers are retried on the schedule the vendor asks for (Retry-After, capped); a
request the vendor calls wrong is not repeated and fails the survey."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy.engine import Engine

from harness.app import running_app
from harness.clock import ManualClock
from harness.payloads import click_body, closed_webhook
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import JobKind, JobState, SurveyState, utcnow
from tests.databases import jobs, surveys
from tests.outages.queue import CONTACTS, RATES, invite_jobs, invited, okdesk_requests, survey_state

TRANSIENT = [
    pytest.param("bitrix", "imbot.message.add", 500, id="bitrix-500"),
    pytest.param("bitrix", "imbot.message.add", 502, id="bitrix-502"),
    pytest.param("bitrix", "imbot.message.add", 503, id="bitrix-503-QUERY_LIMIT_EXCEEDED"),
    pytest.param("bitrix", "imbot.message.add", 429, id="bitrix-429"),
    pytest.param("okdesk", "contact", 500, id="okdesk-500"),
    pytest.param("okdesk", "contact", 502, id="okdesk-502"),
    pytest.param("okdesk", "contact", 503, id="okdesk-503"),
    pytest.param("okdesk", "contact", 429, id="okdesk-429"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("vendor", "call", "status"), TRANSIENT)
async def test_transient_answers_are_retried_and_the_invitation_sent_once(
    database_url: str, engine: Engine, vendors: Vendors, vendor: str, call: str, status: int
) -> None:
    if vendor == "bitrix":
        vendors.bitrix.fail(call, status, status)
    else:
        vendors.okdesk.fail(call, status, status)
    async with running_app(make_settings(database_url), vendors) as app:
        await invited(app, engine)
    (invite,) = invite_jobs(engine)
    assert (invite.state, invite.attempts) == (JobState.DONE, 3)
    tries = (
        len(vendors.calls("imbot.message.add"))
        if vendor == "bitrix"
        else okdesk_requests(vendors, "GET", CONTACTS)
    )
    assert tries == 3
    assert len(vendors.bitrix.messages) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("retry_after", "cap", "wait"),
    [
        pytest.param("3", "10s", 3.0, id="never-sooner-than-retry-after"),
        pytest.param("30", "5s", 5.0, id="at-most-the-cap"),
        pytest.param(
            format_datetime(utcnow() + timedelta(hours=1), usegmt=True),
            "10s",
            10.0,
            id="http-date",
        ),
    ],
)
async def test_retry_after_sets_the_next_try_recorded_in_the_database(
    database_url: str, engine: Engine, vendors: Vendors, retry_after: str, cap: str, wait: float
) -> None:
    vendors.okdesk.fail("contact", (429, {"Retry-After": retry_after}))
    settings = make_settings(database_url, retry_base="0.01s", retry_cap=cap)
    clock = ManualClock()
    failed_at = clock.now
    async with running_app(settings, vendors, clock=clock) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: invite_jobs(engine)[0].last_error is not None)
        (invite,) = invite_jobs(engine)
        assert invite.last_error == "Okdesk contact lookup: HTTP 429"
        assert invite.attempts == 1 and invite.state == JobState.PENDING
        delay = invite.available_at - failed_at
        assert timedelta(seconds=wait) <= delay <= timedelta(seconds=wait + 0.01)
        # Not due yet: the worker keeps polling but does not ask again.
        await asyncio.sleep(0.3)
        assert okdesk_requests(vendors, "GET", CONTACTS) == 1
        assert survey_state(engine) == SurveyState.INVITING
        clock.now = invite.available_at
        await eventually(lambda: survey_state(engine) == SurveyState.AWAITING)
    assert okdesk_requests(vendors, "GET", CONTACTS) == 2
    assert len(vendors.bitrix.messages) == 1


REJECTED = [
    *(pytest.param("bitrix", s, id=f"bitrix-imbot.message.add-{s}") for s in (400, 401, 403)),
    *(pytest.param("bitrix", s, id=f"bitrix-imbot.message.add-{s}") for s in (404, 422)),
    *(pytest.param("okdesk-contact", s, id=f"okdesk-contact-{s}") for s in (400, 401, 403, 422)),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("vendor", "status"), REJECTED)
async def test_wrong_request_on_invitation_is_not_retried_and_fails_the_survey(
    database_url: str, engine: Engine, vendors: Vendors, vendor: str, status: int
) -> None:
    if vendor == "bitrix":
        vendors.bitrix.fail("imbot.message.add", status)
        where = f"Bitrix24 imbot.message.add: HTTP {status}"
    else:
        vendors.okdesk.fail("contact", status)
        where = f"Okdesk contact lookup: HTTP {status}"
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: survey_state(engine) == SurveyState.FAILED)
        await asyncio.sleep(0.2)
    (invite,) = invite_jobs(engine)
    assert (invite.state, invite.attempts) == (JobState.FAILED, 1)
    survey = surveys(engine)[0]
    assert survey.reason is not None and survey.reason.startswith(where)
    assert invite.last_error == survey.reason
    if vendor == "bitrix":
        assert len(vendors.calls("imbot.message.add")) == 1
    else:
        assert okdesk_requests(vendors, "GET", CONTACTS) == 1
        assert vendors.bitrix.calls == []
    assert vendors.bitrix.messages == {}


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_wrong_request_on_rating_is_not_retried_and_fails_the_survey(
    database_url: str, engine: Engine, vendors: Vendors, status: int
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        token = await invited(app, engine)
        vendors.okdesk.fail("rate", status)
        assert (await app.event(click_body(f"{token}:4"))).status_code == 200
        await eventually(lambda: survey_state(engine) == SurveyState.FAILED)
        await asyncio.sleep(0.2)
    (rating,) = [job for job in jobs(engine) if job.kind == JobKind.SEND_RATING]
    assert (rating.state, rating.attempts) == (JobState.FAILED, 1)
    reason = surveys(engine)[0].reason or ""
    assert reason.startswith(f"Okdesk rating: HTTP {status}")
    assert okdesk_requests(vendors, "POST", RATES) == 1
    assert vendors.okdesk.rate_posts == []


@pytest.mark.anyio
async def test_contact_gone_is_undeliverable_without_retry(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # A 404 on the contact is an answer ("no such contact"), not a failure (okdesk.md §4).
    vendors.okdesk.fail("contact", 404)
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: survey_state(engine) == SurveyState.UNDELIVERABLE)
    assert okdesk_requests(vendors, "GET", CONTACTS) == 1
    assert vendors.bitrix.calls == []
