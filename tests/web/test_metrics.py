"""/metrics: the counters move by what happened (a webhook, a click, a timeout, refusals,
vendor calls), the gauges show what the database holds, METRICS_TOKEN guards the page, and
no secret or URL ever appears in it."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from bridge.outside.vendors import budget_shape
from bridge.web.intake import same_secret
from bridge.web.routes.metrics import CACHED
from harness.app import Running, running_app
from harness.clock import ManualClock
from harness.constants import ISSUE_ID, OKDESK_BASE, WEBHOOK_PATH
from harness.payloads import click_body, closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from outbound.errors import RejectedError, TransientError
from outbound.observe import CallOutcome, observed
from storage import budget
from storage.db import transaction
from storage.tables import SurveyState
from tests.databases import surveys

pytestmark = pytest.mark.anyio

P = "okdesk_rating_"
METRICS_TOKEN = "metrics-secret-0123456789abcdef"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(app: Running, **headers: str) -> Samples:
    response = await app.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((P + name, tuple(sorted(labels.items()))), 0.0)


def _moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return _value(after, name, **labels) - _value(before, name, **labels)


def _state(engine: Engine, issue_id: int) -> str:
    return next(s.state for s in surveys(engine) if s.issue_id == issue_id)


async def test_a_webhook_a_click_and_a_timeout_move_the_counters(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    clock = ManualClock()
    vendors.okdesk.issues[ISSUE_ID + 1] = rest_issue(ISSUE_ID + 1)
    async with running_app(make_settings(database_url), vendors, clock=clock) as app:
        before = await _scrape(app)
        assert (await app.webhook(closed_webhook())).json() == {"result": "accepted"}
        await eventually(lambda: _state(engine, ISSUE_ID) == SurveyState.AWAITING)
        survey = surveys(engine)[0]
        await app.event(click_body(f"{survey.token}:5"))
        await app.webhook(closed_webhook(ISSUE_ID + 1))
        await eventually(lambda: _state(engine, ISSUE_ID + 1) == SurveyState.AWAITING)
        clock.now += timedelta(hours=25)
        await eventually(lambda: _state(engine, ISSUE_ID + 1) == SurveyState.DEFAULTED)
        await eventually(lambda: all(s.rating_sent_at for s in surveys(engine)))
        after = await _scrape(app)
    assert _moved(before, after, "webhooks_total", result="accepted") == 2
    assert _moved(before, after, "invitations_sent_total") == 2
    assert _moved(before, after, "answers_total", source="click", outcome="rated") == 1
    assert _moved(before, after, "answers_total", source="automatic", outcome="rated") == 1
    assert _moved(before, after, "answers_total", source="text", outcome="rated") == 0
    okdesk = {"vendor": "okdesk", "outcome": "ok"}
    # Both tickets are one contact's: its e-mail is read once and kept for a minute.
    assert _moved(before, after, "vendor_calls_total", method="contacts.show", **okdesk) == 1
    assert _moved(before, after, "vendor_calls_total", method="issues.rates.create", **okdesk) == 2
    # The two invitations went alone or shared a `batch` request, as they happened to meet.
    bitrix = {"vendor": "bitrix24", "outcome": "ok"}
    requests = {
        method: _moved(before, after, "vendor_calls_total", method=method, **bitrix)
        for method in ("imbot.message.add", "batch")
    }
    assert requests["imbot.message.add"] + 2 * requests["batch"] >= 2
    timed = {"vendor": "bitrix24", "method": "imbot.message.add"}
    assert _moved(before, after, "vendor_call_seconds_count", **timed) == requests[timed["method"]]
    assert _value(after, "worker_heartbeat_age_seconds") >= 0
    assert 0 <= _value(after, "bitrix_request_budget_left", portal="default") <= 50


async def test_refusals_are_counted_by_status(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    clock = ManualClock()
    settings = make_settings(database_url, webhook_surveys_per_minute=2, worker_enabled=False)
    async with running_app(settings, vendors, clock=clock) as app:
        before = await _scrape(app)
        assert (await app.webhook(closed_webhook(), token="wrong-token-000000")).status_code == 401
        assert (await app.webhook(b"{not json")).status_code == 400
        assert (await app.webhook(closed_webhook())).status_code == 200
        assert (await app.webhook(closed_webhook())).status_code == 200  # the same closure
        assert (await app.webhook(closed_webhook(ISSUE_ID + 1))).status_code == 429
        clock.now += CACHED  # a scrape is kept for a second
        after = await _scrape(app)
    for result in ("refused_401", "refused_400", "refused_429", "accepted", "duplicate"):
        assert _moved(before, after, "webhooks_total", result=result) == 1, result


async def test_gauges_show_the_waiting_jobs(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    clock = ManualClock()
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, vendors, clock=clock) as app:
        empty = await _scrape(app)
        await app.webhook(closed_webhook())
        clock.now += timedelta(seconds=90)
        waiting = await _scrape(app)
    assert _value(empty, "jobs_pending", kind="invite") == 0
    assert _value(empty, "oldest_due_job_age_seconds") == 0
    assert _value(waiting, "jobs_pending", kind="invite") == 1
    assert _value(waiting, "jobs_pending", kind="send_rating") == 0
    assert _value(waiting, "oldest_due_job_age_seconds") == 90
    # No worker ever ran: no heartbeat to report; the budget is untouched.
    assert (P + "worker_heartbeat_age_seconds", ()) not in waiting
    # The portal's burst of 50 less the one request of room the bucket keeps.
    assert _value(waiting, "bitrix_request_budget_left", portal="default") == 49


async def test_the_budget_gauge_shows_what_the_bucket_would_grant(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, worker_enabled=False, bitrix_requests_per_second=0.01)
    shape = budget_shape(settings)
    with transaction(engine) as session:
        for _ in range(10):
            budget.take_request(
                session,
                name=shape.name,
                now=time.time(),
                burst=shape.burst,
                per_second=shape.per_second,
            )
    async with running_app(settings, vendors) as app:
        left = _value(await _scrape(app), "bitrix_request_budget_left", portal="default")
    assert 39 <= left < 39.1  # 49 (50 less the room kept) less 10, and a trickle refilled since


async def test_vendor_failures_are_counted_by_outcome(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.okdesk.fail("issue", 503, 404)
    async with running_app(make_settings(database_url), vendors) as app:
        before = await _scrape(app)
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine, ISSUE_ID) != SurveyState.INVITING)
        await asyncio.sleep(CACHED.total_seconds())  # a scrape is kept for a second
        after = await _scrape(app)
    read = {"vendor": "okdesk", "method": "issues.show"}
    assert _moved(before, after, "vendor_calls_total", outcome="transient", **read) == 1
    assert _moved(before, after, "vendor_calls_total", outcome="ok", **read) >= 1


async def test_metrics_token_is_required_when_set(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, metrics_token=METRICS_TOKEN, worker_enabled=False)
    async with running_app(settings, vendors) as app:
        refused = [
            await app.client.get("/metrics"),
            await app.client.get("/metrics", headers={"Authorization": "Bearer wrong"}),
            await app.client.get("/metrics", headers={"Authorization": METRICS_TOKEN}),
            await app.client.get("/metrics", headers={"Authorization": f"Basic {METRICS_TOKEN}"}),
        ]
        samples = await _scrape(app, Authorization=f"Bearer {METRICS_TOKEN}")
    assert [r.status_code for r in refused] == [401] * 4
    assert all(METRICS_TOKEN not in r.text for r in refused)
    assert refused[0].headers["www-authenticate"] == "Bearer"
    assert (P + "jobs_pending", (("kind", "invite"),)) in samples


async def test_no_secret_or_url_in_the_scrape(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, metrics_token=METRICS_TOKEN)
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine, ISSUE_ID) == SurveyState.AWAITING)
        headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        text = (await app.client.get("/metrics", headers=headers)).text
    assert P + "vendor_calls_total" in text
    for secret in [*settings.secrets(), WEBHOOK_PATH, OKDESK_BASE, "acme.bitrix24.ru", "http"]:
        assert secret not in text, secret
    assert str(ISSUE_ID) not in text


class _Seen:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, CallOutcome]] = []

    def called(self, vendor: str, method: str, outcome: CallOutcome, seconds: float) -> None:
        assert seconds >= 0
        self.calls.append((vendor, method, outcome))


async def test_an_observer_sees_how_each_call_ended() -> None:
    seen = _Seen()
    with observed(seen, "v", "ok"):
        pass
    for error in (TransientError("later"), RejectedError("no"), ValueError("odd")):
        with pytest.raises(type(error)), observed(seen, "v", "m"):
            raise error
    with pytest.raises(asyncio.CancelledError), observed(seen, "v", "cancelled"):
        raise asyncio.CancelledError
    with observed(None, "v", "nobody"):
        pass
    outcomes = [outcome.value for _, _, outcome in seen.calls]
    assert outcomes == ["ok", "transient", "rejected", "error"]
    assert same_secret("a", "a")
