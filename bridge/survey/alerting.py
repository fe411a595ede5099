"""A person's low rating reaches the team: in the transaction that records the rating, the
alert is opened (once per survey) and its job queued; what the person does next (a follow-up
answer, a change of score) queues the job again, which edits the alert (`bridge.team`).

Never for an automatic rating (those are not recorded here) or a test invitation.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bridge.config.settings import Settings
from storage import queue
from storage.tables import JobKind, Survey
from storage.team import posts


def rated(session: Session, settings: Settings, survey: Survey, score: int, now: datetime) -> None:
    """A person rated (or changed their rating): open the alert of a low score, and bring an
    alert already posted up to date."""
    if not settings.alert_dialog_id or survey.id is None or survey.is_test or survey.automatic:
        return
    opened = score <= settings.alert_max_score and posts.open_message(
        session, key=posts.alert_key(survey.id), survey_id=survey.id, now=now
    )
    if opened or posts.alert_of(session, survey_id=survey.id) is not None:
        queue.enqueue(session, kind=JobKind.ALERT, now=now, survey_id=survey.id)


def said_more(session: Session, settings: Settings, survey_id: int, now: datetime) -> None:
    """The person answered «Что пошло не так?»: their words are added to the alert."""
    if settings.alert_dialog_id and posts.alert_of(session, survey_id=survey_id) is not None:
        queue.enqueue(session, kind=JobKind.ALERT, now=now, survey_id=survey_id)
