"""The one reminder a survey may get: which are due, and marking one reminded (issue 10).

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from storage.survey.fields import SurveyChange
from storage.survey.surveys import apply_change, due_by
from storage.tables import Survey


def due_for_reminder(session: Session, *, now: datetime, limit: int) -> Sequence[Survey]:
    """Surveys whose reminder time passed (an index range scan: only due rows are read)."""
    return due_by(session, Survey.remind_at, now=now, limit=limit)


def apply_once(session: Session, change: SurveyChange, *, now: datetime) -> bool:
    """Apply a reminder `change` unless the survey was ever reminded: never a second one."""
    return apply_change(session, change, now=now, guard=[col(Survey.reminded_at).is_(None)])


def drop_reminder(session: Session, *, survey_id: int) -> None:
    """The reminder is not needed (the survey no longer waits for an answer)."""
    session.execute(update(Survey).where(col(Survey.id) == survey_id).values(remind_at=None))
