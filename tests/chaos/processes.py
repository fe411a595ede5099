"""The chaos tests' processes and what they read back: workers and services as processes against
the fakes as a process, the surveys seeded, and the invitations and ratings the fakes received.

Each chaos test asserts end states and counts, never how long something took; figures worth
reporting (kills, duplicate invitations, rejected requests) are printed (run with `-s`).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from bot.client import BitrixClient
from bot.register import register
from bridge.survey import closures
from harness.constants import CLIENT_ID, CONTACT_ID, USER_ID
from harness.payloads import closed_webhook
from harness.processes import Fakes, Service, service_env
from harness.vendors import make_settings
from storage import queue
from storage.db import create_db_engine, transaction
from storage.survey import surveys
from storage.tables import Job, JobKind, Survey, SurveyState, utcnow
from tests.databases import jobs

ENDED_WITHOUT_RATING = {SurveyState.UNDELIVERABLE, SurveyState.CANCELLED, SurveyState.FAILED}
# Polling gently: SQLite readers take the write lock too.
GENTLY = 0.25
_NUMBER = re.compile(r"№(\d+)")


@contextmanager
def opened(database_url: str) -> Iterator[Engine]:
    """An engine of the test's own, for seeding and looking at end state."""
    engine = create_db_engine(database_url, pool_size=2)
    try:
        yield engine
    finally:
        engine.dispose()


def rated_survey(issue_id: int, now: datetime, score: int = 4, **fields: Any) -> Survey:
    """A survey the person rated `score` (its rating not yet in Okdesk unless `fields` say)."""
    return Survey(
        token=surveys.new_survey_token(),
        issue_id=issue_id,
        current_issue_id=issue_id,
        state=SurveyState.RATED,
        language="ru",
        contact_id=CONTACT_ID,
        bitrix_user_id=USER_ID,
        score=score,
        rated_by=USER_ID,
        created_at=now,
        updated_at=now,
        answered_at=now,
        **fields,
    )


def seed_rated(engine: Engine, issue_ids: Iterable[int], score: int = 4) -> None:
    """Rated surveys, each with its send_rating job due now (in one transaction)."""
    now = utcnow()
    with transaction(engine) as session:
        rated = [rated_survey(issue_id, now, score) for issue_id in issue_ids]
        session.add_all(rated)
        session.flush()
        for survey in rated:
            queue.enqueue(session, kind=JobKind.SEND_RATING, now=now, survey_id=survey.id)


def open_survey(engine: Engine, database_url: str, issue_id: int) -> None:
    """The ticket's closure as the webhook stores it: a survey and its invite job."""
    change = closures.StatusChange(issue_id, "closed", CONTACT_ID, "Касса не печатает чек", None)
    closures.record_status_change(engine, make_settings(database_url), change, utcnow())


def is_final(survey: Survey) -> bool:
    """Whether the survey is done: its rating is in Okdesk, or it ended without one."""
    if survey.state in (SurveyState.RATED, SurveyState.DEFAULTED):
        return survey.rating_sent_at is not None
    return survey.state in ENDED_WITHOUT_RATING


def settled(engine: Engine) -> bool:
    """No job is pending any more."""
    with transaction(engine) as session:
        return not queue.pending_by_kind(session)


def only_job(engine: Engine) -> Job:
    """The one job of a test that queued one."""
    (job,) = jobs(engine)
    return job


# --- the fakes and the service ---------------------------------------------------------------


def register_bot(fakes: Fakes, database_url: str, port: int) -> None:
    """Create the bot in the fake portal, as `python -m bot.register` would (in-process)."""
    settings = make_settings(
        database_url,
        bitrix_webhook_url=fakes.bitrix_webhook,
        public_url=f"http://127.0.0.1:{port}/",
    )

    async def create() -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await register(BitrixClient(http, fakes.bitrix_webhook, CLIENT_ID), settings)

    asyncio.run(create())


def environment(fakes: Fakes, database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The service's environment (reconciliation off: only our webhooks open surveys)."""
    return service_env(fakes, database_url, port, RECONCILE_INTERVAL="off", **extra)


def worker(env: dict[str, str], log_path: Path, *args: str, **extra: str) -> Service:
    """A `python -m bridge.worker` process (not started)."""
    return Service({**env, **extra}, log_path, module="bridge.worker", args=args)


def set_latency(fakes: Fakes, which: str, seconds: float) -> None:
    """Change a fake's latency for the requests that start from now on."""
    base = fakes.okdesk if which == "okdesk" else fakes.bitrix
    httpx.post(f"{base}/_fake/latency", json={"latency": seconds}, timeout=10).raise_for_status()


def invitations(fakes: Fakes) -> Counter[int]:
    """Invitations posted per ticket number: messages posted with buttons (an edited invitation
    keeps its number). A reply that names the ticket is not one: a press that came after the
    survey ended is answered with a message of its own («Время для оценки заявки №N истекло»)."""
    found: Counter[int] = Counter()
    for message in fakes.state("bitrix")["messages"].values():
        match = _NUMBER.search(str(message["MESSAGE"]))
        if match and message["posted_with_buttons"]:
            found[int(match.group(1))] += 1
    return found


def rate_posts(fakes: Fakes) -> Counter[int]:
    """Rating POSTs that reached Okdesk, per ticket."""
    return Counter(int(issue) for issue, _ in fakes.state("okdesk")["rate_posts"])


def posted_rates(fakes: Fakes) -> dict[int, list[str]]:
    """The rates posted to Okdesk, per ticket."""
    rates: dict[int, list[str]] = {}
    for issue, body in fakes.state("okdesk")["rate_posts"]:
        rates.setdefault(int(issue), []).append(str(body["rate"]))
    return rates


def log_of(process: Service) -> str:
    """Everything a process logged so far."""
    return process.log_path.read_text(encoding="utf-8", errors="replace")


def stopped_gracefully(code: int | None, log: str) -> bool:
    """The process ran its shutdown to the end (see the exit-code test for the code itself)."""
    return code == 0 and "worker.stopped" in log


def close_tickets(service: Service, issue_ids: Iterable[int]) -> list[str]:
    """Okdesk's closure webhooks for these tickets, one after another; what each was answered."""
    send = service.senders()
    return [str(send.webhook(closed_webhook(i)).json()["result"]) for i in issue_ids]
