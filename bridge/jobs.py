"""What each queued job does at Okdesk and Bitrix24, and what it changes afterwards.

A handler makes the vendor calls and returns an `Effect`: the database change to apply in the
same transaction that marks the job done, under the job's lease. A worker that lost its lease
(it was frozen, another took the job over) applies nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from bot import messages
from bot.client import BitrixClient, BitrixUser
from bot.errors import DeliveryError, MessageNotEditableError, RejectedError
from bot.transport import ChatMessage, ChatTransport
from bridge.okdesk import OkdeskClient
from bridge.service import language_of
from bridge.settings import Settings
from bridge.workflow import Trigger, decide_rating_write, sources, target
from storage import queries
from storage.tables import Job, JobKind, Survey, SurveyState

log = logging.getLogger(__name__)

Effect = Callable[[Session, datetime], None]
BOT_DELETED = "bot_deleted"


@dataclass(frozen=True)
class Vendors:
    """The outside world, as the jobs see it."""

    okdesk: OkdeskClient
    bitrix: BitrixClient
    chat: ChatTransport


def _nothing(_session: Session, _now: datetime) -> None:
    return None


async def run(job: Job, survey: Survey | None, vendors: Vendors, settings: Settings) -> Effect:
    """Do the job's vendor calls and say what to record (invitations: `invite_many`)."""
    if job.kind == JobKind.REPLY:
        payload = json.loads(job.payload)
        await vendors.chat.send(str(payload["dialog_id"]), ChatMessage(str(payload["text"])))
        return _nothing
    if survey is None:
        log.warning("job.orphaned job_id=%s kind=%s", job.id, job.kind)
        return _nothing
    if job.kind == JobKind.SEND_RATING:
        return await send_rating(survey, vendors, settings)
    if job.kind == JobKind.CLOSE_INVITATION:
        await close_invitation(survey, vendors)
        return _nothing
    raise RejectedError(f"unknown job kind {job.kind!r}")


Outcome = Effect | DeliveryError
CONTACT_LOOKUPS_AT_ONCE = 10


async def invite_many(surveys: Sequence[Survey | None], vendors: Vendors) -> list[Outcome]:
    """Invite the requesters of many closed tickets at once (one outcome per survey).

    Bitrix24 allows 2 requests a second, so the user lookups and the messages go out as
    `batch` requests of up to 50 calls each; Okdesk's contact lookups go one by one.
    """
    outcomes: list[Outcome] = [_nothing] * len(surveys)
    waiting = {
        i: s for i, s in enumerate(surveys) if s is not None and s.state == SurveyState.INVITING
    }
    user_ids: dict[int, int] = {}
    emails: dict[str, str] = {}
    found = await _contact_emails(list(waiting.values()), vendors)
    for (i, survey), email in zip(waiting.items(), found, strict=True):
        if survey.bitrix_user_id is not None:
            user_ids[i] = survey.bitrix_user_id
        elif isinstance(email, DeliveryError):
            outcomes[i] = email
        elif isinstance(email, NoEmail):
            outcomes[i] = _undeliverable(survey, email.reason)
        else:
            emails[str(i)] = email
    for key, users in (await vendors.bitrix.find_users_by_emails(emails)).items():
        i = int(key)
        if isinstance(users, DeliveryError):
            outcomes[i] = users
        elif len(users) == 1:
            user_ids[i] = users[0].id
        else:
            outcomes[i] = _undeliverable(waiting[i], _nobody(users))
    invitations = {str(i): (str(uid), _invitation(waiting[i])) for i, uid in user_ids.items()}
    for key, sent in (await vendors.chat.send_many(invitations)).items():
        i = int(key)
        outcomes[i] = (
            sent if isinstance(sent, DeliveryError) else _invited(waiting[i], user_ids[i], sent)
        )
    return outcomes


@dataclass(frozen=True)
class NoEmail:
    """Why a survey's requester cannot be looked up by e-mail."""

    reason: str


async def _contact_emails(
    surveys: list[Survey], vendors: Vendors
) -> list[str | NoEmail | DeliveryError]:
    """Each survey's contact e-mail, or why there is none, or the lookup's error.

    E-mails live only in memory until the Bitrix24 user is found: never stored or logged.
    """
    limit = asyncio.Semaphore(CONTACT_LOOKUPS_AT_ONCE)

    async def one(survey: Survey) -> str | NoEmail | DeliveryError:
        if survey.bitrix_user_id is not None:
            return NoEmail("already found")
        if survey.contact_id is None:
            return NoEmail("the ticket has no contact")
        async with limit:
            try:
                email = await vendors.okdesk.contact_email(survey.contact_id)
            except DeliveryError as exc:
                return exc
        return (
            email if email is not None else NoEmail("the contact has no e-mail address in Okdesk")
        )

    return list(await asyncio.gather(*(one(s) for s in surveys)))


def _nobody(users: list[BitrixUser]) -> str:
    if not users:
        return "no active Bitrix24 user has the contact's e-mail address"
    return f"{len(users)} Bitrix24 users have the contact's e-mail address"


def _invitation(survey: Survey) -> ChatMessage:
    text = messages.invitation(
        survey.issue_id, survey.issue_title, survey.engineer, language_of(survey)
    )
    return ChatMessage(text, messages.rating_keyboard(survey.token))


def _invited(survey: Survey, user_id: int, message_id: int) -> Effect:
    assert survey.id is not None
    survey_id = survey.id
    log.info("survey.invited survey_id=%s issue_id=%s", survey_id, survey.issue_id)

    def record(session: Session, now: datetime) -> None:
        # The bot could post, so it exists again (after ONIMBOTDELETE and a new registration).
        queries.clear_status(session, BOT_DELETED)
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


def _undeliverable(survey: Survey, reason: str) -> Effect:
    assert survey.id is not None
    survey_id = survey.id
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
