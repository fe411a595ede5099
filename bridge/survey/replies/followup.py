"""Ask why after a rating: "what went wrong?" (FOLLOWUP_MAX_SCORE and below), or "anything to
add?" (above it, with FOLLOWUP_ON_HIGH), once per survey.

The person's next message within FOLLOWUP_WINDOW is kept with the survey. Once its sender is
proven (as for a typed score: by the event channel when the event carries no token, or by our
portal's `profile` when it carries the person's access token), it goes to the Okdesk
ticket as the contact's comment (HTML escaped, private unless FOLLOWUP_COMMENT_PUBLIC), a
queued job retried like the rating, posted once (`bridge.survey.replies.followup_comment`), and
the bot says it was passed on. A message after the window is an ordinary message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session

from bot.portals.ids import portal_of
from bot.portals.messengers import messenger_of
from bot.texts import messages
from bridge.config.settings import Settings
from bridge.outside.vendors import Vendors
from bridge.survey.chat import say_to, survey_language
from bridge.survey.replies.followup_comment import as_html as as_html  # re-exported
from bridge.survey.replies.followup_comment import post_answer
from storage import queue
from storage.survey import followups
from storage.tables import Job, JobKind, Survey

log = logging.getLogger(__name__)

Effect = Callable[[Session, datetime], None]
TEXT_LIMIT = 4000
# Answers kept per question: a flood of forged ones cannot make Okdesk a chat log.
MAX_ANSWERS = 5
JOB_KINDS = frozenset({JobKind.VERIFY_FOLLOWUP, JobKind.POST_FOLLOWUP})


def question(settings: Settings, score: int) -> str | None:
    """The question a score deserves (a text key), or None."""
    if settings.followup_max_score is None:
        return None
    if score <= settings.followup_max_score:
        return "followup_low"
    return "followup_high" if settings.followup_on_high else None


def ask(
    session: Session,
    settings: Settings,
    survey: Survey,
    *,
    score: int,
    now: datetime,
) -> None:
    """After a person's rating (or change), ask the question if it is due and never asked."""
    key, survey_id = question(settings, score), survey.id
    if key is None or survey_id is None or survey.is_test:
        return
    until = now + settings.followup_window
    if followups.ask(session, survey_id=survey_id, until=until, now=now):
        text = messages.text(key, survey_language(survey), number=survey.issue_id)
        if not say_to(session, settings, survey, text, now):
            # Never shown (the person's share of the minute was spent): it is not open.
            followups.withdraw_question(session, survey_id=survey_id)


def take(
    session: Session,
    *,
    user_id: int,
    text: str,
    access_token: str | None,
    channel_proven: bool = False,
    is_score: bool = False,
    now: datetime,
) -> Survey | None:
    """Keep a message as an answer to the person's open question; the survey, or None.

    The question stays open for its window (issue 23, point 10): with no token in events an
    answer forged in the person's name cannot be told from theirs, so it must not close the
    question and lose their own. Later answers are appended (up to MAX_ANSWERS and
    TEXT_LIMIT) and posted; after the first, a score is a score, not an answer."""
    survey = followups.open_question(session, bitrix_user_id=user_id, now=now)
    if survey is None or survey.id is None or not text.strip():
        return None
    if survey.followup_answers and (is_score or survey.followup_answers >= MAX_ANSWERS):
        return None
    kept = "\n\n".join(filter(None, (survey.followup_text, text.strip())))[:TEXT_LIMIT]
    if not followups.take_answer(session, survey=survey, text=kept, now=now):
        return None
    if channel_proven and not access_token:
        if not queue.has_pending(session, survey_id=survey.id, kind=JobKind.POST_FOLLOWUP):
            queue.enqueue(session, kind=JobKind.POST_FOLLOWUP, now=now, survey_id=survey.id)
        return survey
    payload = {"user_id": user_id, "access_token": access_token or "", "answer": text.strip()}
    queue.enqueue(
        session, kind=JobKind.VERIFY_FOLLOWUP, now=now, survey_id=survey.id, payload=payload
    )
    return survey


async def run(job: Job, survey: Survey, vendors: Vendors, settings: Settings) -> Effect:
    """Check the answer's sender, or post the answer to Okdesk."""
    if job.kind == JobKind.VERIFY_FOLLOWUP:
        return await _verify(job, survey, vendors)
    return await _post(survey, vendors, settings)


async def _verify(job: Job, survey: Survey, vendors: Vendors) -> Effect:
    payload = json.loads(job.payload)
    token = str(payload.get("access_token") or "") if isinstance(payload, dict) else ""
    user_id = payload.get("user_id") if isinstance(payload, dict) else None
    owner = None
    if token and isinstance(user_id, int):
        # Asked of the person's own portal only (bot.portals.ids): ids repeat across portals.
        people = await messenger_of(vendors.messenger, portal_of(user_id))
        owner = await people.token_owner(token)
    survey_id = survey.id
    assert survey_id is not None
    if owner is not None and owner == user_id == survey.bitrix_user_id:

        def post(session: Session, now: datetime) -> None:
            queue.enqueue(session, kind=JobKind.POST_FOLLOWUP, now=now, survey_id=survey_id)

        return post
    if owner is None:
        # Kept with the survey, but nobody can vouch for it as the contact's words.
        log.warning("followup.unverified survey_id=%s", survey_id)
        return _nothing
    log.warning("followup.forged survey_id=%s claimed_user=%s", survey_id, user_id)

    answer = str(payload.get("answer") or "") if isinstance(payload, dict) else ""

    def forget(session: Session, _now: datetime) -> None:
        followups.forget_answer(session, survey_id=survey_id, answer=answer)

    return forget


async def _post(survey: Survey, vendors: Vendors, settings: Settings) -> Effect:
    survey_id = survey.id
    if survey_id is None or survey.followup_text is None:
        return _nothing
    await post_answer(survey, vendors, settings)
    log.info("followup.posted survey_id=%s issue_id=%s", survey_id, survey.issue_id)
    text = messages.text("followup_passed", survey_language(survey), number=survey.issue_id)

    def record(session: Session, now: datetime) -> None:
        followups.mark_posted(session, survey_id=survey_id, now=now)
        say_to(session, settings, survey, text, now)

    return record


def _nothing(_session: Session, _now: datetime) -> None:
    return None
