"""What each queued job does at Okdesk and Bitrix24, and what it changes afterwards.

A handler makes the vendor calls and returns an `Effect`: the database change to apply in the
same transaction that marks the job done, under the job's lease. A worker that lost its lease
(it was frozen, another took the job over) applies nothing. Invitations go in batches:
`bridge.survey.invitations`.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlmodel import Session

from bot.errors import MessageNotEditableError
from bot.messenger import ChatMessage
from bot.portals.ids import portal_of
from bot.portals.messengers import messenger_of
from bot.texts import messages
from bridge.config.settings import Settings
from bridge.outside import bot_removal
from bridge.outside.vendors import Vendors
from bridge.rules import workflow
from bridge.rules.decisions import decide_rating_write
from bridge.rules.write_back import rating_not_written, rating_written
from bridge.survey import buttons
from bridge.survey.chat import say_to
from bridge.survey.replies import followup
from bridge.survey.replies.answers import Answer, ask_back, language_of, record_verified_answer
from outbound.errors import DeliveryError, RejectedError
from storage import queue
from storage.survey import surveys
from storage.tables import Job, JobKind, Survey

log = logging.getLogger(__name__)

Effect = Callable[[Session, datetime], None]
# Asks the database whether the worker still holds the job's lease, and keeps it if so.
StillOurs = Callable[[], Awaitable[bool]] | None
# What a test survey's rating "write" records instead of writing to Okdesk.
TEST_NOTE = "test: not written"
Outcome = Effect | DeliveryError


def nothing(_session: Session, _now: datetime) -> None:
    """The effect of a job that changes nothing here."""
    return None


def applying(change: Callable[[datetime], workflow.Change]) -> Effect:
    """The effect that applies one workflow change (built at the time it is recorded)."""

    def apply(session: Session, now: datetime) -> None:
        surveys.apply_change(session, change(now), now=now)

    return apply


async def run(
    job: Job,
    survey: Survey | None,
    vendors: Vendors,
    settings: Settings,
    carrying: Sequence[int] = (),
    still_ours: StillOurs = None,
) -> Effect:
    """Do the job's vendor calls and say what to record (invitations: `bridge.survey.invitations`);
    `carrying`: the messages with the survey's buttons (`bridge.survey.buttons`); `still_ours`:
    whether the worker still holds the job's lease (asked before a write that a read preceded)."""
    if job.kind == JobKind.REPLY:
        return await send_reply(job, vendors)
    if job.kind == JobKind.VERIFY_REPLY:
        return await verify_reply(job, vendors, settings)
    if job.kind == JobKind.CHECK_BOT_DELETED:
        portal = int(json.loads(job.payload or "{}").get("portal", 0))
        gone = await bot_removal.check(vendors.messenger, portal)
        return bot_removal.recording_deleted(portal) if gone else nothing
    if survey is None:
        log.warning("job.orphaned job_id=%s kind=%s", job.id, job.kind)
        return nothing
    if job.kind == JobKind.SEND_RATING:
        retry = job.attempts > 1
        return await send_rating(survey, vendors, settings, retry=retry, still_ours=still_ours)
    if job.kind == JobKind.CLOSE_INVITATION:
        return await close_invitation(survey, vendors, carrying)
    if job.kind in followup.JOB_KINDS:
        return await followup.run(job, survey, vendors, settings)
    raise RejectedError(f"unknown job kind {job.kind!r}")


async def send_reply(job: Job, vendors: Vendors) -> Effect:
    """Post a short bot message queued by an answer or a greeting; one with survey buttons
    («which ticket?», an ask-back) is recorded under each of those surveys."""
    payload = json.loads(job.payload)
    if not isinstance(payload, dict) or "dialog_id" not in payload or "text" not in payload:
        raise RejectedError("the reply's chat and text were purged: nothing to send")
    keyboard = payload.get("keyboard")
    message = ChatMessage(str(payload["text"]), keyboard if isinstance(keyboard, dict) else None)
    message_id = await vendors.messenger.send(str(payload["dialog_id"]), message)
    survey_ids = [int(i) for i in payload.get("survey_ids") or ()]
    return buttons.recorded(survey_ids, message_id) if message.keyboard else nothing


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
        score=int(payload["score"]),
        reply_text=payload.get("reply_text"),
    )
    survey_id = int(payload["survey_id"])
    people = await messenger_of(vendors.messenger, portal_of(answer.user_id))
    owner = await people.token_owner(str(payload["access_token"]))
    if owner == answer.user_id:

        def rate(session: Session, now: datetime) -> None:
            record_verified_answer(session, settings, answer, survey_id=survey_id, now=now)

        return rate
    if owner is None:

        def confirm(session: Session, now: datetime) -> None:
            ask_back(session, settings, answer, survey_id=survey_id, now=now)

        return confirm
    log.warning(
        "bitrix.reply_forged survey_id=%s claimed_user=%s token_user=%s",
        survey_id,
        answer.user_id,
        owner,
    )
    return nothing


async def send_rating(
    survey: Survey, vendors: Vendors, settings: Settings, *, retry: bool, still_ours: StillOurs
) -> Effect:
    """Give the ticket its rating in Okdesk and confirm it by reading the ticket after.

    A default rating, and any `retry` (an earlier try may have posted), read the ticket first;
    a worker that lost the job's lease meanwhile (`still_ours`) writes nothing.
    """
    assert survey.id is not None and survey.score is not None
    survey_id = survey.id
    if survey.rating_sent_at is not None:
        return nothing
    if survey.is_test:
        # The administrator's test invitation (`bridge.admin send-test`): Okdesk hears nothing.
        return applying(lambda now: rating_written(survey_id, shown=None, note=TEST_NOTE, now=now))
    if survey.current_issue_id != survey.issue_id:
        # Reopened since: a later closure's survey rates the ticket, never this older one.
        note = "the ticket was reopened after this rating: not sent"
        log.info("survey.rating_not_sent survey_id=%s reason=%s", survey_id, note)
        return applying(lambda now: rating_not_written(survey_id, note=note, now=now))
    written, wanted = survey.score, settings.rating_map[survey.score]
    written_back = await _write_rating(survey, vendors, wanted, retry, still_ours)
    if written_back is None:
        return nothing  # another worker has the job now
    shown, reason = written_back
    if shown != wanted and reason is None:
        return kept_earlier(survey, settings, wanted=wanted, shown=str(shown))
    log.info("survey.rating_sent survey_id=%s issue_id=%s", survey_id, survey.issue_id)
    # Issue 10: the ticket shows the default we set; a comment says it was automatic.
    comment = survey.automatic and reason is None and settings.auto_rating_comment

    def record(session: Session, now: datetime) -> None:
        if not score_moved_on(session, survey_id, written, now):
            change = rating_written(survey_id, shown=shown, note=reason, now=now, comment=comment)
            surveys.apply_change(session, change, now=now)

    return record


async def _write_rating(
    survey: Survey, vendors: Vendors, wanted: str, retry: bool, still_ours: StillOurs
) -> tuple[str | None, str | None] | None:
    """What the ticket shows once the rating is written, and why it was not posted (None when
    it was, or when it showed `wanted` already); None when the lease was lost.

    A person's rating, on its first try, is posted whatever the ticket shows and then read
    back: two calls. A default never overrides a real rating, and a retry never posts twice
    what an earlier try may have posted: both read the ticket before writing. A worker frozen
    while its read was on its way, past the lease, finds on waking that another worker has the
    job: what the ticket showed may be out of date, and it writes nothing.
    """
    if not (survey.automatic or retry):
        return await _post_rating(survey, vendors, wanted, UNREAD), None
    before = await vendors.helpdesk.issue_rate(survey.issue_id)
    write = decide_rating_write(wanted, before, automatic=survey.automatic)
    if not write.post:
        return before, write.note
    if still_ours is not None and not await still_ours():
        log.warning("survey.rating_not_sent survey_id=%s reason=lease_lost", survey.id)
        return None
    return await _post_rating(survey, vendors, wanted, before), None


def score_moved_on(session: Session, survey_id: int, written: int, now: datetime) -> bool:
    """Whether the person changed their score while `written` was being written; if so, the
    next write is queued now: one rating write per ticket at a time, the last score last."""
    current = surveys.get_survey(session, survey_id=survey_id, lock=True)
    if current is None or current.score == written:
        return current is None
    queue.enqueue(session, kind=JobKind.SEND_RATING, now=now, survey_id=survey_id)
    return True


async def _post_rating(
    survey: Survey, vendors: Vendors, wanted: str, before: str | Unread | None
) -> str:
    """Post the rating and read back what the ticket shows; raise unless it shows `wanted`
    or still shows the rating it had (Okdesk may refuse or ignore a second one: §12).

    `before` is what the ticket showed (None: unrated), or `UNREAD`: then a refusal or a
    rating left as it was is told by the read after (a repeated write showing `wanted` is done).
    """
    try:
        await vendors.helpdesk.rate_issue(survey.issue_id, wanted)
    except RejectedError as refused:
        if before is None:
            raise
        shown = await vendors.helpdesk.issue_rate(survey.issue_id)
        if shown is None:
            raise
        log.warning("survey.second_rating_refused survey_id=%s error=%s", survey.id, refused)
        if before is UNREAD or shown in (wanted, before):
            return shown
        raise RejectedError(f"Okdesk refused the rating {wanted!r} and shows {shown!r}") from None
    shown = await vendors.helpdesk.issue_rate(survey.issue_id)
    if shown is None or (shown != wanted and before is not UNREAD and shown != before):
        raise RejectedError(f"Okdesk accepted the rating {wanted!r} but shows {shown!r}")
    return shown


class Unread(enum.Enum):
    """The ticket was not read before the rating was posted."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


def kept_earlier(survey: Survey, settings: Settings, *, wanted: str, shown: str) -> Effect:
    """Okdesk kept the ticket's earlier rating: recorded as the survey's reason (the operator
    sees it), and the person is told their new score did not reach Okdesk."""
    assert survey.id is not None and survey.score is not None
    survey_id, written = survey.id, survey.score
    note = f"Okdesk kept the earlier rating {shown!r}: the new one, {wanted!r}, did not take"
    log.warning("survey.rating_kept survey_id=%s shown=%s wanted=%s", survey_id, shown, wanted)
    text = messages.text("rating_kept", language_of(survey), number=survey.issue_id, score=written)

    def record(session: Session, now: datetime) -> None:
        if not score_moved_on(session, survey_id, written, now):
            change = rating_written(survey_id, shown=shown, note=note, now=now)
            surveys.apply_change(session, change, now=now)
            if not survey.automatic:
                say_to(session, settings, survey, text, now)

    return record


async def close_invitation(
    survey: Survey, vendors: Vendors, carrying: Sequence[int] = ()
) -> Effect:
    """Replace the invitation's buttons with the outcome (thanks, time passed, reopened), and
    take the buttons off every other message of the survey (`bridge.survey.buttons`)."""
    if survey.message_id is None or survey.bitrix_user_id is None:
        return nothing
    outcome = buttons.outcome(survey)
    if outcome is None:
        return nothing
    # The invitation and the survey's other messages at once, so that they share a request.
    _, forget = await asyncio.gather(
        _redraw(survey, vendors, outcome.message),
        buttons.take_away(survey, vendors, outcome.closing, carrying),
    )
    return forget


async def _redraw(survey: Survey, vendors: Vendors, message: ChatMessage) -> None:
    assert survey.message_id is not None
    try:
        await vendors.messenger.edit(survey.message_id, message)
    except MessageNotEditableError:
        # Old messages cannot be edited (a portal setting, 3 days by default): say it anew.
        await vendors.messenger.send(str(survey.bitrix_user_id), message)
