"""The page's section "messages the bot could not use" (issue 22, point 3): what people wrote
that was not an answer, newest first, e-mails masked (personal data, gone after
PERSONAL_DATA_RETENTION, `storage.survey.unused`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from sqlmodel import Session, col, select

from bridge.report.html.sections import ticket
from bridge.report.html.texts import texts
from bridge.report.privacy import without_emails
from storage.survey import unused
from storage.tables import Survey

LIMIT = 20

_TITLE = {
    "ru": "Сообщения, которые бот не смог использовать",
    "en": "Messages the bot could not use",
}
_NONE = {"ru": "Таких сообщений не было.", "en": "There were none."}


@dataclass(frozen=True)
class Unused:
    """A text the bot could not use, and the ticket it was about (if one was asked about)."""

    text: str
    received_at: datetime
    issue_id: int | None


def read(session: Session, *, start: datetime, end: datetime) -> list[Unused]:
    """The newest texts the bot could not use in the period."""
    rows = unused.latest(session, start=start, end=end, limit=LIMIT)
    ids = {row.survey_id for row in rows if row.survey_id is not None}
    statement = select(Survey.id, Survey.issue_id).where(col(Survey.id).in_(ids))
    issues = dict(session.exec(statement).all()) if ids else {}
    return [Unused(row.text, row.received_at, issues.get(row.survey_id)) for row in rows]


def section(items: Sequence[Unused], okdesk: str, language: str) -> str:
    """The section as HTML, every value escaped."""
    lang = "en" if language == "en" else "ru"
    title = f"<h2>{escape(_TITLE[lang])}</h2>"
    if not items:
        return f"<section>{title}<p>{escape(_NONE[lang])}</p></section>"
    t = texts(language)
    entries = "".join(
        f"<li><blockquote>{escape(without_emails(item.text))}</blockquote><small>"
        + (f"{ticket(item.issue_id, okdesk, t)} · " if item.issue_id is not None else "")
        + f"{item.received_at.strftime('%Y-%m-%d %H:%M')}</small></li>"
        for item in items
    )
    return f'<section class="unused">{title}<ul class="comments">{entries}</ul></section>'
