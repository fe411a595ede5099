"""What people wrote, for the page and the exports: a typed reply only when it carried words
(never a bare «5»), the answer to the follow-up question, and the changes of mind."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlmodel import Session

from bot.reading.replies import carries_words
from storage.reading import report_words
from storage.reading.report_words import Change

# Candidates read at a time while looking for replies that carried words.
PAGE = 200


@dataclass(frozen=True)
class Comment:
    """What a person wrote with their rating (`text`: their typed words, `followup`: their
    answer to «Что пошло не так?»), and how they changed their mind."""

    issue_id: int
    score: int
    text: str | None
    followup: str | None
    engineer: str | None
    answered_at: datetime | None
    changes: tuple[Change, ...] = ()


def words(reply: str | None) -> str | None:
    """The typed reply if it carried words, else None."""
    return reply if carries_words(reply) else None


def comments(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    where: Iterable[ColumnElement[bool]] = (),
    limit: int,
) -> list[Comment]:
    """The latest comments of the period, lowest score first, at most `limit`."""
    conditions = list(where)
    found: list[report_words.Written] = []
    for score in range(1, 6):
        before: int | None = None
        while len(found) < limit:
            page = report_words.written(
                session,
                start=start,
                end=end,
                score=score,
                where=conditions,
                before=before,
                limit=PAGE,
            )
            found += [w for w in page if w.followup or carries_words(w.reply)][: limit - len(found)]
            if len(page) < PAGE:
                break
            before = page[-1].survey_id
    changes = report_words.changes_of(session, (w.survey_id for w in found))
    return [_comment(w, changes.get(w.survey_id, [])) for w in found]


def _comment(written: report_words.Written, changes: Sequence[Change]) -> Comment:
    return Comment(
        written.issue_id,
        written.score,
        words(written.reply),
        written.followup or None,
        written.engineer,
        written.answered_at,
        tuple(changes),
    )


def history(changes: Sequence[Change]) -> str:
    """The changes of mind as text: `2 → 4 2026-03-05 10:00; 4 → 5 …` (UTC)."""
    return "; ".join(
        f"{c.from_score} → {c.to_score} {c.changed_at.strftime('%Y-%m-%d %H:%M')}" for c in changes
    )
