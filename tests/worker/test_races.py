"""Races: a click against the timeout, two replicas handling the same click, several workers.

Each race runs on real threads against the real database, so the guarded state changes and
the leases decide, not the order of coroutines.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from bridge.config.settings import Settings
from bridge.outside.vendors import open_vendors
from bridge.rules.decisions import AnswerOutcome
from bridge.survey import closures
from bridge.survey.replies import answers
from bridge.worker import housekeeping
from bridge.worker.loop import Worker
from harness.constants import USER_ID
from harness.vendors import Vendors, make_settings
from storage.db import transaction
from storage.survey.surveys import current_survey
from storage.tables import JobKind, Survey, SurveyState, utcnow
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio

TRIALS = 20


def _awaiting_survey(engine: Engine, settings: Settings, issue_id: int, *, due: bool) -> str:
    """A survey waiting for user 27's answer (already past its deadline when `due`)."""
    now = utcnow()
    change = closures.StatusChange(issue_id, "closed", 11771, "Касса", None)
    closures.record_status_change(engine, settings, change, now)
    with transaction(engine) as session:
        survey = current_survey(session, issue_id=issue_id)
        assert survey is not None and survey.id is not None
        deadline = now - timedelta(seconds=1) if due else now + timedelta(hours=1)
        session.execute(
            update(Survey)
            .where(col(Survey.id) == survey.id)
            .values(
                {
                    "state": SurveyState.AWAITING,
                    "bitrix_user_id": USER_ID,
                    "message_id": 84400,
                    "deadline_at": deadline,
                }
            )
        )
    return survey.token


def _click(engine: Engine, settings: Settings, token: str, score: int) -> AnswerOutcome:
    answer = answers.Answer(USER_ID, score, survey_token=token)
    return answers.record_answer(engine, settings, answer, utcnow())


def _rating_jobs_per_survey(engine: Engine) -> Counter[int | None]:
    return Counter(job.survey_id for job in jobs(engine) if job.kind == JobKind.SEND_RATING)


def test_click_racing_the_timeout_has_exactly_one_outcome(
    engine: Engine, database_url: str
) -> None:
    settings = make_settings(database_url)
    outcomes: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for trial in range(TRIALS):
            token = _awaiting_survey(engine, settings, 1000 + trial, due=True)
            click = pool.submit(_click, engine, settings, token, 2)
            sweep = pool.submit(housekeeping.apply_timeouts, engine, settings, utcnow())
            click.result()
            sweep.result()
    for survey in surveys(engine):
        assert survey.state in (SurveyState.RATED, SurveyState.DEFAULTED)
        assert survey.score == (2 if survey.state == SurveyState.RATED else 5)
        assert survey.automatic is (survey.state == SurveyState.DEFAULTED)
        outcomes[survey.state] += 1
    assert sum(outcomes.values()) == TRIALS
    counts = _rating_jobs_per_survey(engine)
    assert len(counts) == TRIALS and set(counts.values()) == {1}


def test_two_replicas_handling_the_same_click_rate_once(engine: Engine, database_url: str) -> None:
    settings = make_settings(database_url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for trial in range(TRIALS):
            token = _awaiting_survey(engine, settings, 2000 + trial, due=False)
            scores = [4, 4, 5, 1]
            results = list(
                pool.map(_click, *zip(*[(engine, settings, token, s) for s in scores], strict=True))
            )
            assert results.count(AnswerOutcome.RATED) == 1
            assert results.count(AnswerOutcome.ALREADY_DONE) == 3
    counts = _rating_jobs_per_survey(engine)
    assert len(counts) == TRIALS and set(counts.values()) == {1}


async def test_several_workers_send_each_rating_to_okdesk_once(
    engine: Engine, database_url: str, vendors: Vendors
) -> None:
    settings = make_settings(database_url)
    for n in range(30):
        issue_id = 3000 + n
        vendors.okdesk.issues[issue_id] = dict(vendors.okdesk.issues[314599], id=issue_id)
        token = _awaiting_survey(engine, settings, issue_id, due=False)
        _click(engine, settings, token, 5)
    async with open_vendors(settings, engine, transport=vendors.transport) as clients:
        workers = [Worker(engine, settings, clients) for _ in range(3)]
        await asyncio.gather(*(w.drain() for w in workers))
    posts = Counter(issue for issue, _ in vendors.okdesk.rate_posts)
    assert len(posts) == 30 and set(posts.values()) == {1}
    assert all(s.rating_sent_at is not None for s in surveys(engine))
