"""Personal data is kept no longer than needed (P15): the purge forgets who and what of
finished surveys only, and the worker runs it after the retention."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from harness.app import Running, running_app
from harness.clock import ManualClock
from harness.constants import ISSUE_ID, USER_ID
from harness.payloads import click_body, closed_webhook, reply_body, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.db import transaction
from storage.purge import purge_personal_data
from storage.tables import JobState, Survey, SurveyState
from tests.databases import jobs, surveys
from tests.secrets.stored_text import EMAIL, text_cells

# --- P15: personal data retention -------------------------------------------------------------


PERSONAL = (
    "issue_title",
    "engineer",
    "reply_text",
    "contact_id",
    "bitrix_user_id",
    "rated_by",
    "reason",
)
KEPT = ("issue_id", "state", "score", "okdesk_rate", "automatic", "token")


def _by_issue(engine: Engine) -> dict[int, Survey]:
    return {survey.issue_id: survey for survey in surveys(engine)}


def _states(engine: Engine) -> list[SurveyState]:
    return [survey.state for survey in surveys(engine)]


def _settled(engine: Engine) -> bool:
    return all(job.state == JobState.DONE for job in jobs(engine))


def _purge(engine: Engine, finished_before: datetime) -> int:
    with transaction(engine) as session:
        return purge_personal_data(session, finished_before=finished_before)


def _emails_stored(engine: Engine) -> list[tuple[str, str, str]]:
    return [(t, c, v) for t, c, v in text_cells(engine) if EMAIL.search(v)]


async def _three_surveys_two_rated(app: Running, engine: Engine, vendors: Vendors) -> None:
    """Tickets A, B, C invite user 27; A is rated by a click, C by a typed reply."""
    for issue_id in (ISSUE_ID, ISSUE_ID + 1, ISSUE_ID + 2):
        vendors.okdesk.issues[issue_id] = rest_issue(issue_id)
        assert (await app.webhook(closed_webhook(issue_id))).status_code == 200
    await eventually(lambda: _states(engine) == [SurveyState.AWAITING] * 3)
    first = _by_issue(engine)[ISSUE_ID]
    assert (await app.event(click_body(f"{first.token}:2"))).status_code == 200
    # With B and C waiting, a typed reply names its ticket (issue 10, point 6): C.
    reply = reply_body(f"№{ISSUE_ID + 2} — 5, спасибо большое", message_id=777)
    assert (await app.event(reply)).status_code == 200
    await eventually(lambda: _settled(engine) and len(vendors.okdesk.rate_posts) == 2)


@pytest.mark.anyio
async def test_purge_forgets_who_and_what_of_finished_surveys_only(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    async with running_app(make_settings(database_url), vendors, clock=clock) as app:
        await _three_surveys_two_rated(app, engine, vendors)
    before = _by_issue(engine)
    rated, waiting = [before[ISSUE_ID], before[ISSUE_ID + 2]], before[ISSUE_ID + 1]
    assert [s.score for s in rated] == [2, 5]
    assert rated[1].reply_text == f"№{ISSUE_ID + 2} — 5, спасибо большое"
    assert all(s.finished_at == clock.now for s in rated)
    assert all(s.issue_title and s.engineer and s.bitrix_user_id == USER_ID for s in rated)

    # Not yet: the cut-off lies before they finished.
    assert _purge(engine, clock.now - timedelta(seconds=1)) == 0
    assert _by_issue(engine) == before

    # Thirty-one days later.
    assert _purge(engine, clock.now + timedelta(days=31)) == 2
    after = _by_issue(engine)
    for survey in rated:
        purged = after[survey.issue_id]
        assert {name: getattr(purged, name) for name in PERSONAL} == dict.fromkeys(PERSONAL)
        assert purged.personal_data_purged
        assert {n: getattr(purged, n) for n in KEPT} == {n: getattr(survey, n) for n in KEPT}
        assert purged.state == SurveyState.RATED and purged.okdesk_rate in ("bad", "good")
    assert after[waiting.issue_id] == waiting
    assert not after[waiting.issue_id].personal_data_purged
    assert after[waiting.issue_id].issue_title == "Касса не печатает чек"
    finished_ids = {s.id for s in rated}
    # Their finished jobs are gone with them.
    assert [j for j in jobs(engine) if j.survey_id in finished_ids] == []
    assert _emails_stored(engine) == []
    # Purging again changes nothing.
    assert _purge(engine, clock.now + timedelta(days=62)) == 0


@pytest.mark.anyio
async def test_purge_deletes_sent_replies(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    async with running_app(make_settings(database_url), vendors, clock=clock) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _states(engine) == [SurveyState.AWAITING])
        # Not a rating: the bot answers how to rate (a REPLY job to the user's dialog).
        assert (await app.event(reply_body("а что это?", message_id=501))).status_code == 200
        (survey,) = surveys(engine)
        assert (await app.event(click_body(f"{survey.token}:4"))).status_code == 200
        await eventually(lambda: _settled(engine) and len(vendors.okdesk.rate_posts) == 1)
    replies = [j for j in jobs(engine) if j.kind == "reply"]
    assert replies and all(f'"{USER_ID}"' in j.payload for j in replies)
    assert _purge(engine, clock.now + timedelta(days=31)) == 1
    assert [j for j in jobs(engine) if j.kind == "reply"] == []


@pytest.mark.anyio
@pytest.mark.parametrize("then_default", [True, False], ids=["then-defaulted", "never-defaulted"])
async def test_purge_forgets_surveys_that_could_not_be_delivered(
    database_url: str,
    engine: Engine,
    vendors: Vendors,
    then_default: bool,
) -> None:
    # Two Bitrix24 users share the contact's e-mail: nobody is invited.
    vendors.bitrix.users.append({**vendors.bitrix.users[0], "ID": "45", "NAME": "Иван (2)"})
    clock = ManualClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    settings = make_settings(
        database_url, rating_timeout="1h", default_rating_when_undeliverable=then_default
    )
    async with running_app(settings, vendors, clock=clock) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _states(engine) == [SurveyState.UNDELIVERABLE])
        # The reason says what went wrong without naming the Bitrix24 users.
        assert "2 Bitrix24 users" in (surveys(engine)[0].reason or "")
        clock.now += timedelta(hours=2)  # past the timeout
        await eventually(lambda: surveys(engine)[0].deadline_at is None and _settled(engine))
        await eventually(lambda: len(vendors.okdesk.rate_posts) == int(then_default))
    (survey,) = surveys(engine)
    assert survey.state == (SurveyState.DEFAULTED if then_default else SurveyState.UNDELIVERABLE)
    assert _purge(engine, clock.now + timedelta(days=31)) == 1
    (survey,) = surveys(engine)
    assert {name: getattr(survey, name) for name in PERSONAL} == dict.fromkeys(PERSONAL)
    assert not re.search(r"\b(27|45)\b", survey.reason or ""), survey.reason


@pytest.mark.anyio
async def test_the_worker_purges_after_the_retention(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, personal_data_retention="1s")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _states(engine) == [SurveyState.AWAITING])
        (survey,) = surveys(engine)
        assert (await app.event(click_body(f"{survey.token}:3"))).status_code == 200
        await eventually(lambda: _settled(engine) and surveys(engine)[0].finished_at is not None)
    (finished,) = surveys(engine)
    assert finished.engineer and finished.bitrix_user_id == USER_ID
    assert not finished.personal_data_purged
    # The worker purges on its first tick and then hourly: start it again past the retention.
    assert finished.finished_at is not None
    wait = (finished.finished_at + timedelta(seconds=1.2) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(wait, 0))
    async with running_app(settings, vendors):
        await eventually(lambda: surveys(engine)[0].personal_data_purged)
    (purged,) = surveys(engine)
    assert {name: getattr(purged, name) for name in PERSONAL} == dict.fromkeys(PERSONAL)
    assert (purged.state, purged.score, purged.issue_id) == (SurveyState.RATED, 3, ISSUE_ID)
    assert _emails_stored(engine) == []
