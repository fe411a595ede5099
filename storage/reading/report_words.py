"""What people wrote and how they changed their minds, for the report page and the exports.

The typed reply is read back whole: whether it carries words or is a bare score is the bot's
reading (`bot.reading.replies.carries_words`), so the caller filters the candidates these return.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, literal_column, select, text
from sqlmodel import Session, col

from storage.tables import WORDS, RatingChange, Survey, UTCDateTime


@dataclass(frozen=True)
class Written:
    """A person's rating with what they typed or answered to the follow-up question."""

    survey_id: int
    issue_id: int
    score: int
    reply: str | None
    followup: str | None
    engineer: str | None
    answered_at: datetime | None


@dataclass(frozen=True)
class Change:
    """One change of mind: from a score to another, when."""

    survey_id: int
    issue_id: int
    from_score: int
    to_score: int
    changed_at: datetime


def _period(
    start: datetime, end: datetime, created: ColumnElement[datetime] | None = None
) -> ColumnElement[bool]:
    opened = col(Survey.created_at) if created is None else created
    return and_(
        opened >= start,
        opened < end,
        col(Survey.is_test).is_(False),
        col(Survey.automatic).is_(False),
    )


def written(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    score: int,
    where: Iterable[ColumnElement[bool]] = (),
    before: int | None,
    limit: int,
) -> list[Written]:
    """People's ratings of `score` in the period with a typed reply or a follow-up answer,
    newest first, below the survey id `before` (None: from the newest)."""
    statement = select(
        col(Survey.id),
        col(Survey.issue_id),
        col(Survey.score),
        col(Survey.reply_text),
        col(Survey.followup_text),
        col(Survey.engineer),
        col(Survey.answered_at),
    ).where(
        col(Survey.score) == score,
        _period(start, end),
        text(WORDS),
        *where,
    )
    if before is not None:
        statement = statement.where(col(Survey.id) < before)
    rows = session.execute(statement.order_by(col(Survey.id).desc()).limit(limit)).all()
    return [Written(*row) for row in rows]


def _changes(condition: ColumnElement[bool]) -> Select[int, int, int, int, datetime]:
    return (
        select(
            col(RatingChange.survey_id),
            col(Survey.issue_id),
            col(RatingChange.from_score),
            col(RatingChange.to_score),
            col(RatingChange.changed_at),
        )
        .join(Survey, col(Survey.id) == col(RatingChange.survey_id))
        .where(condition)
    )


def changes_of(session: Session, survey_ids: Iterable[int]) -> dict[int, list[Change]]:
    """The changes of mind of these surveys, oldest first, by survey id."""
    ids = list(survey_ids)
    found: dict[int, list[Change]] = {}
    if not ids:
        return found
    statement = _changes(col(RatingChange.survey_id).in_(ids))
    rows = session.execute(
        statement.order_by(col(RatingChange.changed_at), col(RatingChange.id))
    ).all()
    for row in rows:
        found.setdefault(row[0], []).append(Change(*row))
    return found


def latest_changes(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    where: Iterable[ColumnElement[bool]] = (),
    limit: int,
) -> list[Change]:
    """The latest changes of mind about surveys of the period, newest first.

    Changes of mind are few: SQLite reads them all and looks up each one's survey, kept off
    the `created_at` index by the unary `+` (through it, it probed every survey of the
    period: 0.2 s with a million). PostgreSQL plans alone."""
    created = (
        literal_column("+survey.created_at", UTCDateTime())
        if session.get_bind().dialect.name == "sqlite"
        else None
    )
    statement = _changes(and_(_period(start, end, created), *where))
    rows = session.execute(
        statement.order_by(col(RatingChange.changed_at).desc(), col(RatingChange.id).desc()).limit(
            limit
        )
    ).all()
    return [Change(*row) for row in rows]
