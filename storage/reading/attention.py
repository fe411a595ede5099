"""Low ratings as a worklist: people's ratings at or below a score that no one has handled
yet, and «Разобрано», which records who handled one and when.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlmodel import Session, col

from storage.sql import rowcount
from storage.tables import Survey
from storage.team.tables import TeamMessage


@dataclass(frozen=True)
class Unhandled:
    """A low rating waiting for someone: the ticket, the person, what they wrote."""

    survey_id: int
    issue_id: int
    score: int
    company: str | None
    bitrix_user_id: int | None
    reply: str | None
    followup: str | None
    engineer: str | None
    answered_at: datetime | None
    # Who pressed «Беру» under its alert in the team's chat (storage.team), if anyone.
    taken_by: str | None = None


def _low(max_score: int) -> tuple[ColumnElement[bool], ...]:
    return (
        col(Survey.score) <= max_score,
        col(Survey.automatic).is_(False),
        col(Survey.is_test).is_(False),
        col(Survey.handled_at).is_(None),
    )


def unhandled(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    max_score: int,
    where: Iterable[ColumnElement[bool]] = (),
    limit: int,
) -> list[Unhandled]:
    """People's ratings of the period at or below `max_score` not yet handled, oldest first."""
    rows = session.execute(
        select(
            col(Survey.id),
            col(Survey.issue_id),
            col(Survey.score),
            col(Survey.company_name),
            col(Survey.bitrix_user_id),
            col(Survey.reply_text),
            col(Survey.followup_text),
            col(Survey.engineer),
            col(Survey.answered_at),
            col(TeamMessage.taken_by),
        )
        .outerjoin(TeamMessage, col(TeamMessage.survey_id) == col(Survey.id))
        .where(col(Survey.created_at) >= start, col(Survey.created_at) < end, *_low(max_score))
        .where(*where)
        .order_by(col(Survey.created_at), col(Survey.id))
        .limit(limit)
    ).all()
    return [Unhandled(*row) for row in rows]


def mark_handled(
    session: Session, *, survey_id: int, max_score: int, by: str, now: datetime
) -> bool:
    """Record that `by` handled this low rating now; False if it is not one waiting."""
    result = session.execute(
        update(Survey)
        .where(col(Survey.id) == survey_id, *_low(max_score))
        .values(handled_at=now, handled_by=by)
    )
    return rowcount(result) == 1


def count_unhandled(session: Session, *, max_score: int) -> int:
    """People's ratings at or below `max_score` not yet handled, of any period."""
    statement = select(func.count()).select_from(Survey).where(*_low(max_score))
    return int(session.execute(statement).scalar_one())
