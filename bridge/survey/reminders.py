"""The one reminder (issue 10): REMINDER_AFTER after the closure, a person who has not
answered gets the buttons once more. Never a second time, never after an answer, a reopening
or the timeout.

The sweep marks a due survey reminded and queues the reminder in one guarded statement
(`storage.survey.reminders.apply_once`), so two sweeps queue one. The job reads the survey before
sending; a click that lands between that read and the send wins: the reminder's record then
fails its guard, and its buttons are replaced by the outcome like the invitation's.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.messenger import ChatMessage
from bot.texts import messages
from bridge.config.settings import Settings
from bridge.outside.vendors import Vendors
from bridge.rules import workflow
from bridge.rules.workflow import Change, Trigger
from bridge.survey.jobs import Effect, close_invitation, nothing
from bridge.survey.replies.answers import language_of
from outbound.errors import RejectedError
from storage import queue
from storage.db import transaction
from storage.survey import messages as survey_messages
from storage.survey import reminders, surveys
from storage.survey.fields import SurveyFields
from storage.tables import Job, JobKind, Survey, SurveyState

log = logging.getLogger(__name__)

REMINDER_BATCH = 500


def remind_at(settings: Settings, closed: datetime) -> datetime | None:
    """When a survey opened at `closed` gets its reminder; None when reminders are off."""
    delay = settings.reminder_delay
    return None if delay is None else closed + delay


def reminded(survey_id: int, *, now: datetime) -> Change:
    """The reminder is due: mark the survey reminded (once) and queue the message."""
    fields: SurveyFields = {
        "state": workflow.target(Trigger.REMINDED),
        "remind_at": None,
        "reminded_at": now,
    }
    return Change(
        survey_id,
        Trigger.REMINDED,
        workflow.sources(Trigger.REMINDED),
        fields,
        (JobKind.REMIND,),
    )


def apply_reminders(
    engine: Engine, settings: Settings, now: datetime, batch: int = REMINDER_BATCH
) -> int:
    """Queue the reminders that are due; returns how many surveys were looked at."""
    with transaction(engine) as session:
        due = reminders.due_for_reminder(session, now=now, limit=batch)
        for survey in due:
            assert survey.id is not None
            # Still being invited (an outage), undeliverable or answered, or reminders were
            # switched off since it was scheduled: no reminder.
            if (
                settings.reminder_delay is None
                or survey.state != SurveyState.AWAITING
                or not reminders.apply_once(session, reminded(survey.id, now=now), now=now)
            ):
                reminders.drop_reminder(session, survey_id=survey.id)
    return len(due)


def sweep(engine: Engine, settings: Settings, now: datetime) -> int:
    """All due reminders, a batch at a time."""
    looked_at = 0
    while True:
        due = apply_reminders(engine, settings, now)
        looked_at += due
        if due < REMINDER_BATCH:
            return looked_at


async def remind(survey: Survey, vendors: Vendors, settings: Settings) -> Effect:
    """Send the reminder with the buttons, unless the survey stopped waiting meanwhile (or
    REMINDER_AFTER was switched off since it was queued)."""
    assert survey.id is not None
    if (
        survey.state != SurveyState.AWAITING
        or survey.bitrix_user_id is None
        or settings.reminder_delay is None
    ):
        log.info("survey.reminder_not_needed survey_id=%s state=%s", survey.id, survey.state)
        return nothing
    language = language_of(survey)
    text = messages.text("reminder", language, number=survey.issue_id, title=_title(survey))
    message = ChatMessage(text, messages.rating_keyboard(survey.token))
    message_id = await vendors.messenger.send(str(survey.bitrix_user_id), message)
    log.info("survey.reminded survey_id=%s", survey.id)
    return _recorded(survey.id, message_id)


def _title(survey: Survey) -> str:
    return f"«{messages.plain(survey.issue_title)}»" if survey.issue_title else ""


def _recorded(survey_id: int, message_id: int) -> Effect:
    """The reminder becomes the survey's message (its buttons get the thanks), unless an
    answer, a reopening or the timeout came first: then its buttons are taken away. Either
    way it is one of the survey's messages with buttons (`bridge.survey.buttons`): the invitation
    above it loses them too when the survey ends."""
    still: Change = Change(
        survey_id, None, frozenset({SurveyState.AWAITING}), {"message_id": message_id}
    )

    def record(session: Session, now: datetime) -> None:
        survey_messages.remember(session, survey_ids=[survey_id], message_id=message_id, now=now)
        if not surveys.apply_change(session, still, now=now):
            queue.enqueue(session, kind=JobKind.CLOSE_INVITATION, now=now, survey_id=survey_id)

    return record


async def close_reminder(job: Job, survey: Survey, vendors: Vendors) -> None:
    """Replace a reminder's buttons that lost their race with the survey's outcome."""
    payload = json.loads(job.payload)
    if not isinstance(payload, dict) or not isinstance(payload.get("message_id"), int):
        raise RejectedError("the reminder's message id is missing")
    await close_invitation(survey.model_copy(update={"message_id": payload["message_id"]}), vendors)
