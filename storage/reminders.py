"""The one reminder a survey may get: which are due, and marking one reminded (issue 10).

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage import queue
from storage.sql import rowcount
from storage.surveys import SurveyChange
from storage.tables import Survey


def due_for_reminder(session: Session, *, now: datetime, limit: int) -> Sequence[Survey]:
    """Surveys whose reminder time passed (an index range scan: only due rows are read)."""
    statement = (
        select(Survey)
        .where(col(Survey.remind_at) <= now)
        .order_by(col(Survey.remind_at))
        .limit(limit)
    )
    return session.exec(statement).all()


def apply_once(session: Session, change: SurveyChange, *, now: datetime) -> bool:
    """Apply a reminder `change` unless the survey was ever reminded: never a second one."""
    result = session.execute(
        update(Survey)
        .where(
            col(Survey.id) == change.survey_id,
            col(Survey.state).in_(list(change.from_states)),
            col(Survey.reminded_at).is_(None),
        )
        .values(**change.fields, updated_at=now)
    )
    if rowcount(result) != 1:
        return False
    for kind in change.jobs:
        queue.enqueue(session, kind=kind, now=now, survey_id=change.survey_id)
    return True


def drop_reminder(session: Session, *, survey_id: int) -> None:
    """The reminder is not needed (the survey no longer waits for an answer)."""
    session.execute(update(Survey).where(col(Survey.id) == survey_id).values(remind_at=None))
