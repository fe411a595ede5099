"""Changes of mind: the window in which a person may change their score, and its history.

None of these commits: the caller owns the transaction. Every statement is guarded, so a
change racing the end of its window either applies in full or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from storage import queue
from storage.sql import rowcount
from storage.survey.fields import SurveyChange
from storage.survey.surveys import apply_change
from storage.tables import JobKind, RatingChange, Survey, SurveyState


def open_window(session: Session, *, survey_id: int, until: datetime) -> None:
    """Let the person change their score until `until` (the thank-you shows the button)."""
    session.execute(
        update(Survey).where(col(Survey.id) == survey_id).values(change_until=until, changing=False)
    )


def _open(now: datetime, user_id: int) -> tuple[ColumnElement[bool], ...]:
    return (
        col(Survey.state) == SurveyState.RATED,
        col(Survey.change_until) > now,
        col(Survey.bitrix_user_id) == user_id,
        col(Survey.current_issue_id) == col(Survey.issue_id),
    )


def start_change(
    session: Session, *, survey_id: int, user_id: int, changes_made: int, now: datetime
) -> bool:
    """The person pressed «Изменить оценку» in time, on the button drawn after the survey's
    latest change (`changes_made`): the five buttons come back."""
    result = session.execute(
        update(Survey)
        .where(
            col(Survey.id) == survey_id,
            col(Survey.changes_made) == changes_made,
            *_open(now, user_id),
        )
        .values(changing=True, updated_at=now)
    )
    if rowcount(result) != 1:
        return False
    queue.enqueue(session, kind=JobKind.CLOSE_INVITATION, now=now, survey_id=survey_id)
    return True


def change_score(
    session: Session,
    change: SurveyChange,
    *,
    from_score: int,
    user_id: int,
    source: str,
    now: datetime,
) -> bool:
    """Apply a change of score while its window is open, and keep it in the history."""
    guard = [col(Survey.changing).is_(True), col(Survey.score) == from_score]
    if not apply_change(session, change, now=now, guard=[*guard, *_open(now, user_id)]):
        return False
    session.execute(
        update(Survey)
        .where(col(Survey.id) == change.survey_id)
        .values(changes_made=col(Survey.changes_made) + 1)
    )
    to_score = change.fields.get("score")
    if to_score is not None and to_score != from_score:
        session.add(
            RatingChange(
                survey_id=change.survey_id,
                from_score=from_score,
                to_score=to_score,
                changed_at=now,
                changed_by=user_id,
                source=source,
            )
        )
    return True


def due_windows(session: Session, *, now: datetime, limit: int) -> Sequence[int]:
    """Surveys whose change window has passed (an index range scan)."""
    statement = (
        select(Survey.id)
        .where(col(Survey.change_until) <= now)
        .order_by(col(Survey.change_until))
        .limit(limit)
    )
    return [survey_id for survey_id in session.exec(statement).all() if survey_id is not None]


def close_window(session: Session, *, survey_id: int, now: datetime) -> bool:
    """The window passed: no more changes; the thank-you loses its button."""
    result = session.execute(
        update(Survey)
        .where(col(Survey.id) == survey_id, col(Survey.change_until) <= now)
        .values(change_until=None, changing=False, updated_at=now)
    )
    if rowcount(result) != 1:
        return False
    queue.enqueue(session, kind=JobKind.CLOSE_INVITATION, now=now, survey_id=survey_id)
    return True


def history(session: Session, *, survey_id: int) -> list[RatingChange]:
    """Every change of the survey's score, oldest first."""
    statement = (
        select(RatingChange)
        .where(RatingChange.survey_id == survey_id)
        .order_by(col(RatingChange.changed_at), col(RatingChange.id))
    )
    return list(session.exec(statement).all())


def changing_surveys(session: Session, *, bitrix_user_id: int, now: datetime) -> list[Survey]:
    """The person's surveys showing the five buttons again (they pressed «Изменить оценку»)."""
    statement = (
        select(Survey)
        .where(
            Survey.bitrix_user_id == bitrix_user_id,
            col(Survey.changing).is_(True),
            col(Survey.change_until) > now,
            Survey.state == SurveyState.RATED,
        )
        .order_by(col(Survey.created_at).desc(), col(Survey.id).desc())
    )
    return list(session.exec(statement).all())


def forget_authors(session: Session) -> None:
    """Who changed a score is a Bitrix24 user id, like `rated_by`: forgotten with the survey's
    personal data (`storage.purge`)."""
    purged = select_columns(col(Survey.id)).where(col(Survey.personal_data_purged).is_(True))
    session.execute(
        update(RatingChange)
        .where(col(RatingChange.changed_by).is_not(None), col(RatingChange.survey_id).in_(purged))
        .values(changed_by=None)
    )
