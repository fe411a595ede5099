"""Nothing stops silently, nothing is misread: the worker outlives its errors, health tells
the truth, one call's failure stays its own, cron mode does all its work, and an older rating
never overwrites a newer closure's (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import col

from bot.client import BitrixClient
from bot.register import register
from bridge.outside.vendors import open_vendors
from bridge.worker import housekeeping
from bridge.worker.loop import Worker, summary
from bridge.worker.retrying import retry_failed
from bridge.worker.settle import Settler
from harness.app import running_app
from harness.constants import BITRIX_BASE, CLIENT_ID, ISSUE_ID, WEBHOOK_PATH
from harness.payloads import click_body, closed_webhook, fixture_bytes, reply_body, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage import purge, queue
from storage.db import transaction
from storage.survey.surveys import set_recipients
from storage.tables import JobKind, JobState, Survey, SurveyState, utcnow
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio


@pytest.fixture
def flaky_timeouts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Make the worker's timeout sweep fail like a database restart, `failures[0]` times."""
    failures = [3]
    real = housekeeping.apply_timeouts

    def apply(*args: Any, **kwargs: Any) -> int:
        if failures[0] > 0:
            failures[0] -= 1
            raise OperationalError("UPDATE survey", {}, Exception("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(housekeeping, "apply_timeouts", apply)
    yield failures


async def test_the_worker_outlives_database_errors_and_readiness_says_so(
    database_url: str, engine: Engine, vendors: Vendors, flaky_timeouts: list[int]
) -> None:
    flaky_timeouts[0] = 10**6
    async with running_app(make_settings(database_url), vendors) as app:
        assert (await app.webhook(closed_webhook())).json() == {"result": "accepted"}

        async def failing() -> bool:
            ready = await app.client.get("/readyz")
            return (
                ready.status_code == 503 and "OperationalError" in ready.json()["checks"]["worker"]
            )

        await eventually(failing)
        assert (await app.client.get("/healthz")).status_code == 200
        flaky_timeouts[0] = 0
        # Backoff is at most 30 s, but the first few retries come within seconds.
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING, within=20)
        await eventually(lambda: _ready(app.client), within=10)
    assert len(vendors.bitrix.messages) == 1


async def _ready(client: httpx.AsyncClient) -> bool:
    response = await client.get("/readyz")
    return response.status_code == 200 and response.json()["status"] == "ready"


async def _not_ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 503


async def test_readiness_names_a_deleted_bot_and_health_stays_alive(
    database_url: str, vendors: Vendors
) -> None:

    async with running_app(make_settings(database_url), vendors) as app:
        await eventually(lambda: _ready(app.client))
        vendors.bitrix.bots.clear()  # deleted in the portal, so the worker's check agrees
        await app.event(fixture_bytes("bitrix24/ONIMBOTDELETE.form"))
        await eventually(lambda: _not_ready(app.client))
        ready = await app.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["bot"].startswith("deleted at")
        assert (await app.client.get("/healthz")).json() == {"status": "ok", "database": "ok"}
        assert (await app.client.head("/healthz")).status_code == 200


async def test_one_failed_lookup_fails_only_its_own_invitation(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # Two closures claimed together: one contact has no e-mail (undeliverable), the other's
    # Bitrix24 lookup is refused. Only the refused one fails.
    vendors.okdesk.issues[9201] = rest_issue(9201)
    vendors.okdesk.issues[9201]["contact"] = {"id": 7001, "name": "Без почты"}
    vendors.okdesk.contacts[7001] = {"id": 7001, "email": None}
    vendors.bitrix.fail("user.get", 400)
    intake = make_settings(database_url, worker_enabled=False)
    async with running_app(intake, vendors) as app:
        await app.webhook(closed_webhook())
        await app.webhook(closed_webhook(9201))
    async with running_app(make_settings(database_url), vendors):
        await eventually(lambda: {s.state for s in surveys(engine)} <= _ENDED)
    by_issue = {s.issue_id: s for s in surveys(engine)}
    assert by_issue[9201].state == SurveyState.UNDELIVERABLE
    assert by_issue[ISSUE_ID].state == SurveyState.FAILED


_ENDED = {SurveyState.UNDELIVERABLE, SurveyState.FAILED}


async def test_an_invitation_giving_up_never_fails_a_defaulted_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # The invitation is refused while the survey times out and gets its default meanwhile.
    # Claimed at once; the lookup answers after 0.5 s and the refusal after 1 s, while the
    # survey times out at 0.5 s in between.
    vendors.bitrix.latency = 0.5
    vendors.bitrix.fail("imbot.message.add", 400)
    settings = make_settings(database_url, rating_timeout="0.5s")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: any(j.state == JobState.FAILED for j in jobs(engine)))
        await eventually(lambda: surveys(engine)[0].rating_sent_at is not None)
    (survey,) = surveys(engine)
    assert (survey.state, survey.automatic) == (SurveyState.DEFAULTED, True)
    assert [j.kind for j in jobs(engine) if j.state == JobState.FAILED] == [JobKind.INVITE]


async def test_a_click_before_the_invitation_is_recorded_rates_the_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # The user is known before the message goes out; the record of the sent message is late.
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        await app.webhook(closed_webhook())
    (survey,) = surveys(engine)
    assert survey.id is not None
    with transaction(engine) as session:
        set_recipients(session, recipients={survey.id: 27})
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        response = await app.event(click_body(f"{survey.token}:5"))
        assert response.status_code == 200
    assert surveys(engine)[0].state == SurveyState.RATED
    assert [j.kind for j in jobs(engine) if j.kind == JobKind.REPLY] == []


async def test_cron_mode_reconciles_and_invites_then_says_what_it_did(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    del vendors.okdesk.issues[ISSUE_ID]  # only the missed closure is listed
    vendors.okdesk.issues[9301] = dict(rest_issue(9301), completed_at=stamp)
    settings = make_settings(database_url, reconcile_interval="1h")
    async with open_vendors(settings, engine, transport=vendors.transport) as clients:
        done = await Worker(engine, settings, clients).drain()
    issues = {s.issue_id: s.state for s in surveys(engine)}
    assert SurveyState(issues[9301]) == SurveyState.AWAITING
    line = summary(done)
    assert "invite done 1" in line and "surveys opened by reconciliation 1" in line


async def test_a_bot_registered_again_is_found_again(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        old_id = await client.bot_id_by_code("okdesk_rating")
        assert old_id is not None
        settings = make_settings(database_url, bitrix_bot_id=str(old_id))
        await client.call("imbot.unregister", {"BOT_ID": old_id, "CLIENT_ID": CLIENT_ID})
        async with running_app(settings, vendors) as app:
            await app.webhook(closed_webhook())
            # While no bot exists the invitation waits; it does not fail.
            await eventually(
                lambda: any(
                    j.kind == JobKind.INVITE and j.attempts >= 2 and j.state == JobState.PENDING
                    for j in jobs(engine)
                )
            )
            assert surveys(engine)[0].state == SurveyState.INVITING
            new_id = (await register(client, settings)).bot_id
            assert new_id != old_id
            await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING)
    (message,) = vendors.bitrix.messages.values()
    assert message["BOT_ID"] == new_id


async def test_an_older_rating_never_overwrites_a_newer_closures(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    reopen = closed_webhook()
    reopen["event"]["new_status"] = {"code": "opened", "name": "Открыта"}
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING)
        first = surveys(engine)[0]
    # Okdesk is down when the person clicks 1; the ticket is reopened and closed again.
    vendors.okdesk.fail("issue", *[503] * 1000)
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        await app.event(click_body(f"{first.token}:1"))
        await app.webhook(reopen)
        await app.webhook(closed_webhook())
    vendors.okdesk.fail_next.clear()
    async with running_app(make_settings(database_url), vendors) as app:
        await eventually(lambda: surveys(engine)[0].finished_at is not None)
        second = surveys(engine)[1]
        await eventually(lambda: surveys(engine)[1].state == SurveyState.AWAITING)
        await app.event(click_body(f"{second.token}:5"))
        await eventually(lambda: surveys(engine)[1].rating_sent_at is not None)
    assert [body["rate"] for _, body in vendors.okdesk.rate_posts] == ["good"]
    assert "reopened" in (surveys(engine)[0].reason or "")


async def test_the_purge_keeps_what_a_retry_needs_and_a_purged_retry_says_so(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.fail("imbot.message.add", 400)
    settings = make_settings(database_url)
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: surveys(engine)[0].state == SurveyState.FAILED)
    later = utcnow() + timedelta(days=31)
    with transaction(engine) as session:
        assert purge.purge_personal_data(session, finished_before=later) == 0
    failed = surveys(engine)[0]
    assert failed.contact_id is not None and not failed.personal_data_purged
    # Something purged before (an older version purged failed surveys) is refused by name.
    with transaction(engine) as session:
        assert failed.id is not None
        session.execute(
            update(Survey).where(col(Survey.id) == failed.id).values(personal_data_purged=True)
        )
    queued, refused = retry_failed(engine, settings, utcnow())
    assert queued == 0 and len(refused) == 1 and "purged" in refused[0]
    assert surveys(engine)[0].state == SurveyState.FAILED


async def test_chatter_gets_one_hint_per_survey_not_a_storm(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:

    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING)
        for n in range(20):
            await app.event(reply_body(f"а когда приедет мастер? ({n})", message_id=700 + n))
    replies = [j for j in jobs(engine) if j.kind == JobKind.REPLY]
    assert len(replies) == 1


async def test_done_statuses_are_not_reopenings(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, okdesk_trigger_statuses="completed")
    vendors.okdesk.issues[ISSUE_ID]["status"] = {"code": "completed", "name": "Решена"}
    completed = closed_webhook()
    completed["event"]["new_status"] = {"code": "completed", "name": "Решена"}
    async with running_app(settings, vendors) as app:
        assert (await app.webhook(completed)).json() == {"result": "accepted"}
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING)
        # Okdesk closes the solved ticket by itself later: not a reopening.
        assert (await app.webhook(closed_webhook())).json() == {"result": "ignored"}
    assert surveys(engine)[0].state == SurveyState.AWAITING
    assert vendors.calls("imbot.message.update") == []


async def test_placeholder_tokens_accept_nothing(database_url: str, vendors: Vendors) -> None:
    settings = make_settings(
        database_url,
        okdesk_webhook_token="change-me-a-long-random-webhook-secret",
        bitrix_events_token="change-me-a-long-random-events-secret",
    )
    async with running_app(settings, vendors) as app:
        response = await app.webhook(
            closed_webhook(), token="change-me-a-long-random-webhook-secret"
        )
        assert response.status_code == 503 and "OKDESK_WEBHOOK_TOKEN" in response.text
        event = await app.event(click_body("x:1"), token="change-me-a-long-random-events-secret")
        assert event.status_code == 503 and "BITRIX_EVENTS_TOKEN" in event.text


async def test_a_database_error_recording_one_result_never_redoes_the_others(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        await app.webhook(closed_webhook())
        await app.webhook(closed_webhook(9701))
    settings = make_settings(database_url)
    with transaction(engine) as session:
        claimed = queue.claim_jobs(
            session, now=utcnow(), lease=timedelta(minutes=2), limit=10, kinds=[JobKind.INVITE]
        )
    assert len(claimed) == 2
    # Refused twice: with its batch (recorded in one transaction), then alone.
    failures = [2]

    def flaky(session: Any, now: Any) -> None:
        if failures[0]:
            failures[0] -= 1
            raise OperationalError("UPDATE survey", {}, Exception("server closed the connection"))

    def fine(session: Any, now: Any) -> None:
        return None

    settler = Settler(engine, settings, utcnow, lambda point: None)
    unsettled = settler.settle([(claimed[0], flaky), (claimed[1], fine)])
    # The second result is recorded although the first could not be: it is never redone.
    assert [job.id for job, _ in unsettled] == [claimed[0].id]
    assert {j.id: j.state for j in jobs(engine)}[claimed[1].id] == JobState.DONE
    assert settler.settle(unsettled) == []
    assert {j.state for j in jobs(engine)} == {JobState.DONE}
