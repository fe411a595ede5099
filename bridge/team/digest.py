"""The weekly digest in the team's chat: CSAT and the response rate of the past week beside the
week before, the number of ratings, the best and the lowest engineer among those with at least
five ratings, the low ratings still unhandled, and a link to the report page.

Its figures are the report page's own (`bridge.report.read`), for the week `schedule` names.
`DigestChore` opens each week's digest once (a row keyed by the day it is due) and queues its
job in the same transaction; `bridge.team.posting` posts it once.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

from sqlalchemy.engine import Engine

from bot.messenger import ChatMessage
from bot.texts.messages import Language, plain
from bot.texts.team import team_text
from bridge.config.settings import Settings
from bridge.report.figures import Row, Week
from bridge.report.html.page import Report
from bridge.report.html.texts import percent
from bridge.report.read import read_report
from bridge.team.schedule import latest_due, week_before
from storage import queue
from storage.db import reading, transaction
from storage.reading import attention
from storage.tables import JobKind
from storage.team import posts

log = logging.getLogger(__name__)

# Engineers with fewer ratings in the week are not named best or lowest.
FEW = 5


def key_in(payload: str) -> str | None:
    """The digest a job's payload names."""
    found = json.loads(payload or "{}")
    key = found.get("key") if isinstance(found, dict) else None
    return key if isinstance(key, str) and key.startswith("digest:") else None


class DigestChore:
    """Opens the week's digest when it is due; the worker runs it every pass (cheap: it asks
    the database once per due day and process)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._opened: date | None = None

    def run(self, now: datetime) -> None:
        """Open the latest due digest unless it was opened before (by anyone, any time)."""
        when = self._settings.digest_at
        if when is None or not self._settings.alert_dialog_id:
            return
        due = latest_due(now, when, self._settings.zone)
        if due == self._opened:
            return
        key = posts.digest_key(due.isoformat())
        with transaction(self._engine) as session:
            if posts.open_message(session, key=key, now=now):
                queue.enqueue(session, kind=JobKind.DIGEST, now=now, payload={"key": key})
                log.info("team.digest_due key=%s", key)
        self._opened = due


def digest_message(engine: Engine, settings: Settings, key: str) -> ChatMessage:
    """The digest `key` names, with the report page's figures of its week."""
    week = week_before(date.fromisoformat(key.removeprefix("digest:")))
    report = read_report(engine, week, max_score=settings.alert_max_score)
    with reading(engine) as session:
        unhandled = attention.count_unhandled(session, max_score=settings.alert_max_score)
    base = (settings.public_url or "").rstrip("/")
    link = f"{base}/admin?{week.query()}"
    return ChatMessage(digest_text(report, unhandled, link, settings.language))


def digest_text(report: Report, unhandled: int, link: str, language: Language) -> str:
    """The digest's text from a week's report (pure)."""
    now, before = report.overview, report.previous
    return team_text(
        "digest",
        language,
        week=Week(report.period.first, now.score).label(language),
        csat=percent(now.score.csat),
        csat_before=percent(before.score.csat),
        rate=percent(now.response_rate),
        rate_before=percent(before.response_rate),
        ratings=now.human,
        ratings_before=before.human,
        engineers=_engineers(report.engineers, language),
        unhandled=unhandled,
        link=link,
    )


def _engineers(rows: list[Row], language: Language) -> str:
    """The best and the lowest of the engineers with at least FEW ratings (by CSAT, then
    the mean score); one line when only one has as many."""
    named = [r for r in rows if r.name and r.score.ratings >= FEW and r.score.csat is not None]
    if not named:
        return team_text("digest_nobody", language)
    ranked = sorted(named, key=lambda r: (r.score.csat or 0, r.score.mean or 0), reverse=True)
    best = team_text("digest_best", language, engineer=_engineer(ranked[0], language))
    if len(ranked) == 1:
        return best
    lowest = _engineer(ranked[-1], language)
    return best + team_text("digest_lowest", language, engineer=lowest)


def _engineer(row: Row, language: Language) -> str:
    name = plain(row.name or "", 100)
    csat, ratings = percent(row.score.csat), row.score.ratings
    return team_text("digest_engineer", language, name=name, csat=csat, ratings=ratings)
