"""What the report page reads: aggregates over the surveys of a period, computed by the database.

A period is the surveys opened (tickets closed) from `start` up to, not including, `end`.
A person's rating is a score that is not automatic; test invitations never count. Every
query reads the period through the `created_at` index and returns a few rows, so the page
stays fast with a hundred thousand surveys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select, tuple_
from sqlmodel import Session, col

from storage.tables import Survey, SurveyState

_WAITING = (SurveyState.INVITING, SurveyState.AWAITING)
_TROUBLE = (SurveyState.UNDELIVERABLE, SurveyState.FAILED)


@dataclass(frozen=True)
class Totals:
    """Counts of one period: people's ratings by score, automatic ones, invitations delivered."""

    by_score: dict[int, int]
    automatic: int
    delivered: int
    surveys: int


@dataclass(frozen=True)
class Day:
    """People's ratings of the surveys opened on one day."""

    day: date
    ratings: int
    good: int


@dataclass(frozen=True)
class Team:
    """People's ratings of one engineer or group (`name` None: not known or purged)."""

    name: str | None
    ratings: int
    good: int
    score_sum: int


@dataclass(frozen=True)
class Comment:
    """What a person wrote with their rating."""

    issue_id: int
    score: int
    text: str
    engineer: str | None
    answered_at: datetime | None


@dataclass(frozen=True)
class Trouble:
    """A survey the machine could not finish, and why."""

    issue_id: int
    state: str
    reason: str | None
    updated_at: datetime


def _in_period(start: datetime, end: datetime) -> ColumnElement[bool]:
    return and_(
        col(Survey.created_at) >= start,
        col(Survey.created_at) < end,
        col(Survey.is_test).is_(False),
    )


def _human() -> ColumnElement[bool]:
    return and_(col(Survey.score).is_not(None), col(Survey.automatic).is_(False))


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def totals(session: Session, *, start: datetime, end: datetime) -> Totals:
    """People's ratings by score, automatic ratings, invitations delivered, all surveys."""
    scores = [_count(and_(_human(), col(Survey.score) == s)) for s in range(1, 6)]
    automatic = _count(and_(col(Survey.score).is_not(None), col(Survey.automatic).is_(True)))
    delivered = _count(col(Survey.message_id).is_not(None))
    row = session.execute(
        select(*scores, automatic, delivered, func.count()).where(_in_period(start, end))
    ).one()
    values = [int(v) for v in row]
    return Totals(dict(zip(range(1, 6), values[:5], strict=True)), *values[5:])


def _day(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.date(func.timezone("UTC", col(Survey.created_at)))
    return func.date(col(Survey.created_at))


def days(session: Session, *, start: datetime, end: datetime) -> list[Day]:
    """People's ratings per day (UTC) of the period, days without surveys left out."""
    day = _day(session).label("day")
    rows = session.execute(
        select(day, _count(_human()), _count(and_(_human(), col(Survey.score) >= 4)))
        .where(_in_period(start, end))
        .group_by(day)
        .order_by(day)
    ).all()
    return [Day(_as_date(r[0]), int(r[1]), int(r[2])) for r in rows]


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def teams(session: Session, *, start: datetime, end: datetime, by: str) -> list[Team]:
    """People's ratings per engineer (`by="engineer"`) or per group (`by="group"`)."""
    column = col(Survey.engineer) if by == "engineer" else col(Survey.engineer_group)
    rows = session.execute(
        select(
            column,
            func.count(),
            _count(col(Survey.score) >= 4),
            func.coalesce(func.sum(col(Survey.score)), 0),
        )
        .where(_in_period(start, end), _human())
        .group_by(column)
        .order_by(func.count().desc(), column)
    ).all()
    return [Team(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]


def comments(session: Session, *, start: datetime, end: datetime, limit: int) -> list[Comment]:
    """The latest comments of people's ratings, low scores first."""
    rows = session.execute(
        select(
            col(Survey.issue_id),
            col(Survey.score),
            col(Survey.reply_text),
            col(Survey.engineer),
            col(Survey.answered_at),
        )
        .where(_in_period(start, end), _human(), col(Survey.reply_text).is_not(None))
        .where(col(Survey.reply_text) != "")
        .order_by(col(Survey.score), col(Survey.answered_at).desc())
        .limit(limit)
    ).all()
    return [Comment(*row) for row in rows]


def machine_counts(session: Session) -> dict[str, int]:
    """Surveys waiting, undeliverable and failed now (any period), by state."""
    rows = session.execute(
        select(col(Survey.state), func.count())
        .where(col(Survey.state).in_([*_WAITING, *_TROUBLE]), col(Survey.is_test).is_(False))
        .group_by(col(Survey.state))
    ).all()
    return {str(state): int(count) for state, count in rows}


def troubles(session: Session, *, limit: int) -> list[Trouble]:
    """The latest undeliverable and failed surveys, with their reasons."""
    rows = session.execute(
        select(col(Survey.issue_id), col(Survey.state), col(Survey.reason), col(Survey.updated_at))
        .where(col(Survey.state).in_(_TROUBLE), col(Survey.is_test).is_(False))
        .order_by(col(Survey.updated_at).desc())
        .limit(limit)
    ).all()
    return [Trouble(*row) for row in rows]


EXPORT_COLUMNS: Sequence[Any] = (
    col(Survey.issue_id),
    col(Survey.state),
    col(Survey.score),
    col(Survey.okdesk_rate),
    col(Survey.automatic),
    col(Survey.engineer),
    col(Survey.engineer_group),
    col(Survey.company_name),
    col(Survey.created_at),
    col(Survey.answered_at),
    col(Survey.rating_sent_at),
    col(Survey.reply_text),
)


def export_batch(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[list[tuple[Any, ...]], tuple[datetime, int] | None]:
    """Up to `limit` surveys of the period after the key `after` (None: from the first), in
    the order of EXPORT_COLUMNS, and the key to read on from (None: that was the last).

    The export reads in short transactions, not one long one: on SQLite every transaction
    holds the write lock, and a slow download must not stop the worker.
    """
    key = (col(Survey.created_at), col(Survey.id))
    statement = select(*EXPORT_COLUMNS, *key).where(_in_period(start, end))
    if after is not None:
        statement = statement.where(tuple_(*key) > tuple_(*after))
    rows = session.execute(statement.order_by(*key).limit(limit)).all()
    last = (rows[-1][-2], rows[-1][-1]) if len(rows) == limit else None
    return [tuple(row[:-2]) for row in rows], last
