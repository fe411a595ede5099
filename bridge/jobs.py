"""What each queued job does at Okdesk and Bitrix24, and what it changes afterwards.

A handler makes the vendor calls and returns an `Effect`: the database change to apply in the
same transaction that marks the job done, under the job's lease. A worker that lost its lease
(it was frozen, another took the job over) applies nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session

from bot import messages
from bot.client import BitrixClient
from bot.errors import MessageNotEditableError
from bot.messenger import ChatMessage, Messenger
from bot.users import BitrixUser
from bridge.helpdesk import Helpdesk
from bridge.service import Answer, ask_back, end_survey, language_of, record_verified_answer
from bridge.settings import Settings
from bridge.workflow import Trigger, decide_rating_write, sources, target
from outbound.errors import DeliveryError, RejectedError, TransientError
from storage import queries
from storage.tables import Job, JobKind, Survey, SurveyState

log = logging.getLogger(__name__)
T = TypeVar("T")

Effect = Callable[[Session, datetime], None]
BOT_DELETED = "bot_deleted"
PORTAL_BLOCKED = "portal_blocked"
WORKER_HEARTBEAT = "worker_heartbeat"


@dataclass(frozen=True)
class Vendors:
    """The outside world, as the jobs see it."""

    okdesk: Helpdesk
    bitrix: BitrixClient
    chat: Messenger


def _nothing(_session: Session, _now: datetime) -> None:
    return None


async def run(job: Job, survey: Survey | None, vendors: Vendors, settings: Settings) -> Effect:
    """Do the job's vendor calls and say what to record (invitations: `find_recipients`)."""
    if job.kind == JobKind.REPLY:
        payload = json.loads(job.payload)
        if not isinstance(payload, dict) or "dialog_id" not in payload or "text" not in payload:
            raise RejectedError("the reply's chat and text were purged: nothing to send")
        keyboard = payload.get("keyboard")
        message = ChatMessage(
            str(payload["text"]), keyboard if isinstance(keyboard, dict) else None
        )
        await vendors.chat.send(str(payload["dialog_id"]), message)
        return _nothing
    if job.kind == JobKind.VERIFY_REPLY:
        return await verify_reply(job, vendors, settings)
    if survey is None:
        log.warning("job.orphaned job_id=%s kind=%s", job.id, job.kind)
        return _nothing
    if job.kind == JobKind.SEND_RATING:
        return await send_rating(survey, vendors, settings)
    if job.kind == JobKind.CLOSE_INVITATION:
        await close_invitation(survey, vendors)
        return _nothing
    raise RejectedError(f"unknown job kind {job.kind!r}")


async def verify_reply(job: Job, vendors: Vendors, settings: Settings) -> Effect:
    """Rate with a typed score once our portal says the event's token is its sender's.

    The token is asked about through the configured portal, never a URL from the event. A
    token the portal does not accept (expired, or invented) leaves the person a button to
    press; a token of someone else is a forgery, and changes nothing.
    """
    payload = json.loads(job.payload)
    if not isinstance(payload, dict) or not payload.get("access_token"):
        raise RejectedError("the reply's token was erased: nothing to verify")
    answer = Answer(
        user_id=int(payload["user_id"]),
        dialog_id=str(payload["dialog_id"]),
        score=int(payload["score"]),
        reply_text=payload.get("reply_text"),
    )
    survey_id = int(payload["survey_id"])
    owner = await vendors.bitrix.token_owner(str(payload["access_token"]))
    if owner == answer.user_id:

        def rate(session: Session, now: datetime) -> None:
            record_verified_answer(session, settings, answer, survey_id, now)

        return rate
    if owner is None:

        def confirm(session: Session, now: datetime) -> None:
            ask_back(session, settings, answer, survey_id, now)

        return confirm
    log.warning(
        "bitrix.reply_forged survey_id=%s claimed_user=%s token_user=%s",
        survey_id,
        answer.user_id,
        owner,
    )
    return _nothing


Outcome = Effect | DeliveryError
# Requesters looked up in Okdesk at once (each: read the ticket, then its contact).
OKDESK_LOOKUPS_AT_ONCE = 20


@dataclass
class Invitations:
    """A batch of invitations between finding the people and sending them the message."""

    surveys: dict[int, Survey]
    outcomes: list[Outcome]
    # Survey id → the Bitrix24 user who will be asked (recorded before sending).
    recipients: dict[int, int] = field(default_factory=dict)
    titles: dict[int, str | None] = field(default_factory=dict)


async def find_recipients(
    surveys: Sequence[Survey | None], vendors: Vendors, settings: Settings
) -> Invitations:
    """Read each ticket as Okdesk shows it now, then find who to ask (one outcome per survey).

    A ticket that is no longer done, or not in Okdesk at all, is asked nothing: the webhook
    said it closed, Okdesk decides. Bitrix24 allows 2 requests a second, so the user lookups
    go out as `batch` requests of up to 50 calls; Okdesk's reads go a few at a time.
    """
    batch = Invitations(
        surveys={
            i: s for i, s in enumerate(surveys) if s is not None and s.state == SurveyState.INVITING
        },
        outcomes=[_nothing] * len(surveys),
    )
    emails: dict[str, str] = {}
    looked_up = await _bounded([_requester(s, vendors, settings) for s in batch.surveys.values()])
    for (i, survey), found in zip(list(batch.surveys.items()), looked_up, strict=True):
        assert survey.id is not None
        if isinstance(found, Requester):
            batch.titles[i] = found.title
            if survey.bitrix_user_id is not None:
                batch.recipients[survey.id] = survey.bitrix_user_id
            else:
                emails[str(i)] = found.email
            continue
        batch.outcomes[i] = found
        del batch.surveys[i]
    await _find_users(batch, emails, vendors)
    return batch


async def _find_users(batch: Invitations, emails: dict[str, str], vendors: Vendors) -> None:
    for key, users in (await vendors.bitrix.find_users_by_emails(emails)).items():
        i = int(key)
        survey = batch.surveys[i]
        assert survey.id is not None
        if isinstance(users, DeliveryError):
            batch.outcomes[i] = users
        elif len(users) == 1:
            batch.recipients[survey.id] = users[0].id
            continue
        else:
            batch.outcomes[i] = _undeliverable(survey, _nobody(users))
        del batch.surveys[i]


async def send_invitations(batch: Invitations, vendors: Vendors) -> list[Outcome]:
    """Post the invitations of a batch whose recipients are recorded."""
    invitations = {}
    for i, survey in batch.surveys.items():
        assert survey.id is not None
        user_id = batch.recipients[survey.id]
        invitations[str(i)] = (str(user_id), _invitation(survey, batch.titles.get(i)))
    for key, sent in (await vendors.chat.send_many(invitations)).items():
        i = int(key)
        survey = batch.surveys[i]
        assert survey.id is not None
        batch.outcomes[i] = (
            sent
            if isinstance(sent, DeliveryError)
            else _invited(survey, batch.recipients[survey.id], sent, batch.titles.get(i))
        )
    return batch.outcomes


@dataclass(frozen=True)
class Requester:
    """Who asked for a ticket, as Okdesk shows it now."""

    email: str
    title: str | None


async def _requester(survey: Survey, vendors: Vendors, settings: Settings) -> Requester | Outcome:
    """The ticket's requester and title, or why nobody will be asked.

    E-mails live only in memory until the Bitrix24 user is found: never stored or logged.
    """
    try:
        ticket = await vendors.okdesk.ticket(survey.issue_id)
        if ticket is None:
            return _not_surveyed(survey, "the ticket is not in Okdesk")
        if ticket.status not in settings.done_statuses:
            return _not_surveyed(survey, f"the ticket is {ticket.status!r} in Okdesk, not done")
        if survey.bitrix_user_id is not None:
            return Requester("", ticket.title)
        contact_id = ticket.contact_id or survey.contact_id
        if contact_id is None:
            return _undeliverable(survey, "the ticket has no contact")
        email = await vendors.okdesk.contact_email(contact_id)
    except DeliveryError as exc:
        return exc
    except Exception as exc:
        # Odd vendor data fails this invitation only, never its neighbours in the batch.
        log.error("invite.lookup_crashed survey_id=%s error=%s", survey.id, type(exc).__name__)
        return TransientError(f"unexpected {type(exc).__name__} reading the ticket")
    if email is None:
        return _undeliverable(survey, "the contact has no e-mail address in Okdesk")
    return Requester(email, ticket.title)


async def _bounded(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    limit = asyncio.Semaphore(OKDESK_LOOKUPS_AT_ONCE)

    async def one(call: Coroutine[Any, Any, T]) -> T:
        async with limit:
            return await call

    return list(await asyncio.gather(*(one(c) for c in calls)))


def _nobody(users: list[BitrixUser]) -> str:
    if not users:
        return "no active Bitrix24 user has the contact's e-mail address"
    return f"{len(users)} Bitrix24 users have the contact's e-mail address"


def _invitation(survey: Survey, title: str | None) -> ChatMessage:
    text = messages.invitation(
        survey.issue_id, title or survey.issue_title, survey.engineer, language_of(survey)
    )
    return ChatMessage(text, messages.rating_keyboard(survey.token))


def _invited(survey: Survey, user_id: int, message_id: int, title: str | None) -> Effect:
    assert survey.id is not None
    survey_id = survey.id
    log.info("survey.invited survey_id=%s issue_id=%s", survey_id, survey.issue_id)

    def record(session: Session, now: datetime) -> None:
        # The bot could post, so it exists again (after ONIMBOTDELETE and a new registration).
        queries.clear_status(session, BOT_DELETED)
        values: dict[str, object] = {
            "message_id": message_id,
            "bitrix_user_id": user_id,
            "updated_at": now,
        }
        if title:
            values["issue_title"] = title
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


def _not_surveyed(survey: Survey, reason: str) -> Effect:
    """Okdesk shows the ticket is not (or no longer) done: end the survey, ask nobody."""
    assert survey.id is not None
    survey_id = survey.id
    log.info("survey.not_surveyed survey_id=%s reason=%s", survey_id, reason)

    def record(session: Session, now: datetime) -> None:
        if end_survey(
            session,
            survey_id,
            Trigger.REOPENED,
            now,
            {"reason": reason},
            from_states=[SurveyState.INVITING],
        ):
            queries.release_current(session, survey_id, now)

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
    if survey.current_issue_id != survey.issue_id:
        # Reopened since: a later closure's survey rates the ticket, never this older one.
        return _not_written(survey_id, "the ticket was reopened after this rating: not sent")
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


def _not_written(survey_id: int, note: str) -> Effect:
    log.info("survey.rating_not_sent survey_id=%s reason=%s", survey_id, note)

    def record(session: Session, now: datetime) -> None:
        queries.update_survey(
            session, survey_id, {"finished_at": now, "updated_at": now, "reason": note}
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
