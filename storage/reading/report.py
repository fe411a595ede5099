"""What the report page reads: aggregates over the surveys of a period, computed by the database.

A period is the surveys opened (tickets closed) from `start` up to, not including, `end`.
A person's rating is a score that is not automatic; test invitations never count. These
queries read the period's surveys through the `created_at` index; the page reads its totals,
tables and trend from the per-day counts instead (`storage.reading.daily`) unless a filter
they do not keep is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, tuple_
from sqlmodel import Session, col

from storage.portals import Portal
from storage.tables import Job, JobState, Survey, SurveyState

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
class Trouble:
    """A survey the machine could not finish, and why."""

    issue_id: int
    state: str
    reason: str | None
    updated_at: datetime


def matching(**wanted: str | None) -> list[ColumnElement[bool]]:
    """Conditions keeping the surveys of one engineer, group, company, type, priority and
    portal (by its name; those given): `matching(engineer="Иван", company=None)`."""
    columns = {
        "engineer": col(Survey.engineer),
        "group": col(Survey.engineer_group),
        "company": col(Survey.company_name),
        "type": col(Survey.type_code),
        "priority": col(Survey.priority_code),
    }
    named = select(col(Portal.id)).where(col(Portal.name) == wanted.get("portal"))
    portal = [col(Survey.portal) == named.scalar_subquery()] if wanted.get("portal") else []
    return [columns[n] == value for n, value in wanted.items() if value and n != "portal"] + portal


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


def weeks(
    session: Session, *, start: datetime, end: datetime, where: Sequence[Any] = ()
) -> list[Day]:
    """People's ratings per ISO week of the period, each dated at its first day in the period.

    One small range query a week rather than a GROUP BY over a date function: the ranges
    read the index in order, while grouping by a computed day sorts every row.
    """
    found = []
    for since, until in _week_ranges(start, end):
        ratings, good = session.execute(
            select(func.count(), _count(col(Survey.score) >= 4)).where(
                _in_period(since, until), _human(), *where
            )
        ).one()
        if ratings:
            found.append(Day(since.date(), int(ratings), int(good)))
    return found


def _week_ranges(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    monday = (start - timedelta(days=start.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    ranges = []
    while monday < end:
        ranges.append((max(start, monday), min(end, monday + timedelta(days=7))))
        monday += timedelta(days=7)
    return ranges


@dataclass(frozen=True)
class Cell:
    """The surveys of the period that share an engineer, group, score and automatic or not,
    and how many of their invitations were delivered: every figure but the trend is summed
    from these."""

    engineer: str | None
    group: str | None
    score: int | None
    automatic: bool
    count: int
    delivered: int

    @property
    def human(self) -> bool:
        """A rating the person gave (not the default)."""
        return self.score is not None and not self.automatic


def cells(
    session: Session, *, start: datetime, end: datetime, where: Sequence[Any] = ()
) -> list[Cell]:
    """One grouped pass over the surveys of the period: what the per-day counts
    (`storage.reading.daily`) cannot serve, a company, type or priority chosen, reads this."""
    columns = (
        col(Survey.engineer),
        col(Survey.engineer_group),
        col(Survey.score),
        col(Survey.automatic),
    )
    rows = session.execute(
        select(*columns, func.count(), func.count(col(Survey.message_id)))
        .where(_in_period(start, end), *where)
        .group_by(*columns)
    ).all()
    return [Cell(r[0], r[1], r[2], bool(r[3]), int(r[4]), int(r[5])) for r in rows]


def totals(period: Sequence[Cell]) -> Totals:
    """People's ratings by score, automatic ratings, invitations delivered, all surveys."""
    by_score = dict.fromkeys(range(1, 6), 0)
    for c in period:
        if c.human and c.score in by_score:
            by_score[c.score] += c.count
    return Totals(
        by_score,
        sum(c.count for c in period if c.score is not None and c.automatic),
        sum(c.delivered for c in period),
        sum(c.count for c in period),
    )


def teams(period: Sequence[Cell], *, by: str) -> list[Team]:
    """People's ratings per engineer (`by="engineer"`) or per group (`by="group"`)."""
    found: dict[str | None, list[int]] = {}
    for c in period:
        if not c.human or c.score is None:
            continue
        team = found.setdefault(c.engineer if by == "engineer" else c.group, [0, 0, 0])
        team[0] += c.count
        team[1] += c.count if c.score >= 4 else 0
        team[2] += c.count * c.score
    rated = [Team(name, *counts) for name, counts in found.items()]
    return sorted(rated, key=lambda t: (-t.ratings, t.name is None, t.name or ""))


def machine_counts(session: Session) -> dict[str, int]:
    """Surveys waiting, undeliverable and failed now (any period), by state."""
    rows = session.execute(
        select(col(Survey.state), func.count())
        .where(col(Survey.state).in_([*_WAITING, *_TROUBLE]), col(Survey.is_test).is_(False))
        .group_by(col(Survey.state))
    ).all()
    return {str(state): int(count) for state, count in rows}


def troubles(session: Session, *, limit: int) -> list[Trouble]:
    """The latest undeliverable and failed surveys, with their reasons.

    One query a state: each walks `ix_survey_state_updated` from its newest row and stops at
    `limit`, where one query for both states sorted every undeliverable and failed survey
    (0.3 s with a million surveys on SQLite)."""
    found: list[Trouble] = []
    for state in _TROUBLE:
        rows = session.execute(
            select(
                col(Survey.issue_id), col(Survey.state), col(Survey.reason), col(Survey.updated_at)
            )
            .where(col(Survey.state) == state, col(Survey.is_test).is_(False))
            .order_by(col(Survey.updated_at).desc())
            .limit(limit)
        ).all()
        found += [Trouble(*row) for row in rows]
    return sorted(found, key=lambda t: t.updated_at, reverse=True)[:limit]


def retryable(session: Session) -> bool:
    """Whether a failed job can be queued again (its survey's personal data not purged)."""
    statement = (
        select(col(Job.id))
        .outerjoin(Survey, col(Survey.id) == col(Job.survey_id))
        .where(col(Job.state) == JobState.FAILED)
        .where(or_(col(Job.survey_id).is_(None), col(Survey.personal_data_purged).is_(False)))
        .limit(1)
    )
    return session.execute(statement).first() is not None


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
    col(Survey.handled_at),
    col(Survey.handled_by),
    col(Survey.reply_text),
    col(Survey.followup_text),
)


def export_batch(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    where: Sequence[Any] = (),
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[list[tuple[Any, ...]], tuple[datetime, int] | None]:
    """Up to `limit` surveys of the period after the key `after` (None: from the first), in
    the order of EXPORT_COLUMNS then the survey's id, and the key to read on from (None:
    that was the last).

    The export reads in short transactions, not one long one: on SQLite every transaction
    holds the write lock, and a slow download must not stop the worker.
    """
    key = (col(Survey.created_at), col(Survey.id))
    statement = select(*EXPORT_COLUMNS, *key).where(_in_period(start, end), *where)
    if after is not None:
        statement = statement.where(tuple_(*key) > tuple_(*after))
    rows = session.execute(statement.order_by(*key).limit(limit)).all()
    last = (rows[-1][-2], rows[-1][-1]) if len(rows) == limit else None
    return [(*row[:-2], row[-1]) for row in rows], last
