"""What each queued job does at Okdesk and Bitrix24, and what it changes afterwards.

A handler makes the vendor calls and returns an `Effect`: the database change to apply in the
same transaction that marks the job done, under the job's lease. A worker that lost its lease
(it was frozen, another took the job over) applies nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot import messages
from bot.client import BitrixClient
from bot.errors import MessageNotEditableError, RejectedError
from bot.transport import ChatMessage, ChatTransport
from bridge.okdesk import OkdeskClient
from bridge.service import language_of
from bridge.settings import Settings
from bridge.workflow import Trigger, decide_rating_write, sources, target
from storage import queries
from storage.tables import Job, JobKind, Survey, SurveyState

log = logging.getLogger(__name__)

Effect = Callable[[Session, datetime], None]


@dataclass(frozen=True)
class Vendors:
    """The outside world, as the jobs see it."""

    okdesk: OkdeskClient
    bitrix: BitrixClient
    chat: ChatTransport


def _nothing(_session: Session, _now: datetime) -> None:
    return None


async def run(job: Job, survey: Survey | None, vendors: Vendors, settings: Settings) -> Effect:
    """Do the job's vendor calls and say what to record."""
    if job.kind == JobKind.REPLY:
        payload = json.loads(job.payload)
        await vendors.chat.send(str(payload["dialog_id"]), ChatMessage(str(payload["text"])))
        return _nothing
    if survey is None:
        log.warning("job.orphaned job_id=%s kind=%s", job.id, job.kind)
        return _nothing
    if job.kind == JobKind.INVITE:
        return await invite(survey, vendors)
    if job.kind == JobKind.SEND_RATING:
        return await send_rating(survey, vendors, settings)
    if job.kind == JobKind.CLOSE_INVITATION:
        await close_invitation(survey, vendors)
        return _nothing
    raise RejectedError(f"unknown job kind {job.kind!r}")


async def invite(survey: Survey, vendors: Vendors) -> Effect:
    """Find the ticket's requester in Bitrix24 and send them the rating buttons."""
    assert survey.id is not None
    survey_id = survey.id
    if survey.state != SurveyState.INVITING:
        return _nothing
    user_id = survey.bitrix_user_id
    if user_id is None:
        found = await _find_user(survey, vendors)
        if isinstance(found, str):
            return _undeliverable(survey_id, found)
        user_id = found
    text = messages.invitation(
        survey.issue_id, survey.issue_title, survey.engineer, language_of(survey)
    )
    keyboard = messages.rating_keyboard(survey.token)
    message_id = await vendors.chat.send(str(user_id), ChatMessage(text, keyboard))
    log.info("survey.invited survey_id=%s issue_id=%s", survey_id, survey.issue_id)

    def record(session: Session, now: datetime) -> None:
        values = {"message_id": message_id, "bitrix_user_id": user_id, "updated_at": now}
        if not queries.move_survey(
            session,
            survey_id,
            from_states=sources(Trigger.INVITED),
            values={**values, "state": target(Trigger.INVITED)},
        ):
            # Reopened or timed out while we were sending: take the buttons away again.
            queries.update_survey(session, survey_id, values)
            queries.enqueue(session, JobKind.CLOSE_INVITATION, now, survey_id=survey_id)

    return record


async def _find_user(survey: Survey, vendors: Vendors) -> int | str:
    """The Bitrix24 user id of the ticket's contact, or why there is none.

    The e-mail lives only in this function's frame: it is never stored or logged.
    """
    if survey.contact_id is None:
        return "the ticket has no contact"
    email = await vendors.okdesk.contact_email(survey.contact_id)
    if email is None:
        return "the contact has no e-mail address in Okdesk"
    users = await vendors.bitrix.find_users_by_email(email)
    if not users:
        return "no active Bitrix24 user has the contact's e-mail address"
    if len(users) > 1:
        ids = ", ".join(str(u.id) for u in users)
        return f"several Bitrix24 users have the contact's e-mail address (ids {ids})"
    return users[0].id


def _undeliverable(survey_id: int, reason: str) -> Effect:
    log.info("survey.undeliverable survey_id=%s reason=%s", survey_id, reason)

    def record(session: Session, now: datetime) -> None:
        queries.move_survey(
            session,
            survey_id,
            from_states=sources(Trigger.NOT_DELIVERABLE),
            values={"state": target(Trigger.NOT_DELIVERABLE), "reason": reason, "updated_at": now},
        )

    return record


async def send_rating(survey: Survey, vendors: Vendors, settings: Settings) -> Effect:
    """Give the ticket its rating in Okdesk, reading it first and confirming it after."""
    assert survey.id is not None and survey.score is not None
    survey_id = survey.id
    if survey.rating_sent_at is not None:
        return _nothing
    wanted = settings.rating_map[survey.score]
    shown = await vendors.okdesk.issue_rate(survey.issue_id)
    write = decide_rating_write(wanted, shown, survey.automatic)
    if write.post:
        await vendors.okdesk.rate_issue(survey.issue_id, wanted)
        shown = await vendors.okdesk.issue_rate(survey.issue_id)
        if shown != wanted:
            raise RejectedError(f"Okdesk accepted the rating {wanted!r} but shows {shown!r}")
    log.info("survey.rating_sent survey_id=%s issue_id=%s", survey_id, survey.issue_id)

    def record(session: Session, now: datetime) -> None:
        queries.update_survey(
            session,
            survey_id,
            {
                "okdesk_rate": shown,
                "rating_sent_at": now,
                "finished_at": now,
                "updated_at": now,
                "reason": write.note,
            },
        )

    return record


async def close_invitation(survey: Survey, vendors: Vendors) -> None:
    """Replace the invitation's buttons with the outcome (thanks, time passed, reopened)."""
    if survey.message_id is None or survey.bitrix_user_id is None:
        return
    language = language_of(survey)
    if survey.state == SurveyState.CANCELLED:
        text = messages.text("cancelled", language, number=survey.issue_id)
    elif survey.automatic:
        text = messages.text("expired", language, number=survey.issue_id)
    elif survey.score is not None:
        text = messages.text("thanks", language, number=survey.issue_id, score=survey.score)
    else:
        return
    try:
        await vendors.chat.edit(survey.message_id, ChatMessage(text))
    except MessageNotEditableError:
        # Old messages cannot be edited (a portal setting, 3 days by default): say it anew.
        await vendors.chat.send(str(survey.bitrix_user_id), ChatMessage(text))


def gives_up_survey(kind: JobKind) -> bool:
    """Whether a job's final failure means its survey failed (a lost reply does not)."""
    return kind in (JobKind.INVITE, JobKind.SEND_RATING)
