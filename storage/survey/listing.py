"""Reading surveys for the administrator: the latest ones, one ticket's, a page for export.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from storage.tables import Job, Survey, SurveyState


def latest_surveys(session: Session, *, state: SurveyState | None, limit: int) -> Sequence[Survey]:
    """The most recently changed surveys (of one state, if given), newest first."""
    statement = select(Survey)
    if state is not None:
        statement = statement.where(Survey.state == state)
    statement = statement.order_by(col(Survey.updated_at).desc(), col(Survey.id).desc())
    return session.exec(statement.limit(limit)).all()


def ticket_surveys(session: Session, *, issue_id: int) -> Sequence[Survey]:
    """Every survey of one ticket (one per closure), oldest first."""
    statement = select(Survey).where(Survey.issue_id == issue_id).order_by(col(Survey.id))
    return session.exec(statement).all()


def survey_jobs(session: Session, *, survey_id: int) -> Sequence[Job]:
    """The jobs queued for one survey, oldest first."""
    statement = select(Job).where(Job.survey_id == survey_id).order_by(col(Job.id))
    return session.exec(statement).all()


def survey_page(
    session: Session,
    *,
    after_id: int,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> Sequence[Survey]:
    """Up to `limit` real (not test) surveys created in [since, until), by id after `after_id`.

    Read a page at a time, each in a short transaction, so that an export of many surveys
    never holds the database (on SQLite every transaction holds the write lock).
    """
    statement = select(Survey).where(col(Survey.id) > after_id, col(Survey.is_test).is_(False))
    if since is not None:
        statement = statement.where(col(Survey.created_at) >= since)
    if until is not None:
        statement = statement.where(col(Survey.created_at) < until)
    return session.exec(statement.order_by(col(Survey.id)).limit(limit)).all()
