"""Forgetting personal data once the work no longer needs it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from storage.sql import rowcount
from storage.survey import changes, unused
from storage.tables import Job, JobState, SeenEvent, Survey, SurveyState

_PURGED: dict[str, Any] = {
    "issue_title": None,
    "engineer": None,
    "engineer_id": None,  # issue 10
    "reply_text": None,
    "followup_text": None,
    "contact_id": None,
    "bitrix_user_id": None,
    "rated_by": None,
    # A vendor's error text may quote what it was sent (names, addresses).
    "reason": None,
    "personal_data_purged": True,
}


def purge_personal_data(session: Session, *, finished_before: datetime) -> int:
    """Forget names, texts and chat ids of surveys done for good before the cut-off.

    A failed survey is not done for good (an administrator may retry it), so it keeps what a
    retry needs. Each statement reads an index range, not the table.
    """
    done_for_good = (
        col(Survey.personal_data_purged).is_(False),
        col(Survey.finished_at) < finished_before,
        col(Survey.state) != SurveyState.FAILED,
    )
    _forget_job_errors(session, done_for_good)
    finished = session.execute(update(Survey).where(*done_for_good).values(**_PURGED))
    # Undeliverable surveys that get no default rating never "finish": they count from
    # their last change.
    never_finishing = (
        col(Survey.state) == SurveyState.UNDELIVERABLE,
        col(Survey.updated_at) < finished_before,
        col(Survey.personal_data_purged).is_(False),
        col(Survey.finished_at).is_(None),
        col(Survey.deadline_at).is_(None),
    )
    _forget_job_errors(session, never_finishing)
    stale = session.execute(update(Survey).where(*never_finishing).values(**_PURGED))
    changes.forget_authors(session)
    # Finished jobs go (a reply's payload names its chat); failed ones stay for a retry.
    session.execute(
        delete(Job).where(col(Job.state) == JobState.DONE, col(Job.finished_at) < finished_before)
    )
    session.execute(delete(SeenEvent).where(col(SeenEvent.seen_at) < finished_before))
    unused.forget(session, received_before=finished_before)
    return rowcount(finished) + rowcount(stale)


# What a purged survey's jobs keep of a vendor's error text (it may quote an e-mail address).
PURGED_ERROR = "(purged with the survey's personal data)"


def _forget_job_errors(session: Session, purged: tuple[ColumnElement[bool], ...]) -> None:
    """Erase the error texts of the jobs of the surveys about to be purged."""
    surveys = select_columns(col(Survey.id)).where(*purged)
    session.execute(
        update(Job)
        .where(col(Job.survey_id).in_(surveys), col(Job.last_error).is_not(None))
        .values(last_error=PURGED_ERROR)
    )
