"""Ask why after a rating: "what went wrong?" (FOLLOWUP_MAX_SCORE and below), or "anything to
add?" (above it, with FOLLOWUP_ON_HIGH), once per survey.

The person's next message within FOLLOWUP_WINDOW is kept with the survey. Once its sender is
proven (as for a typed score: by the event channel when the event carries no token, or by our
portal's `profile` when it carries the person's access token), it goes to the Okdesk
ticket as the contact's comment (HTML escaped, private unless FOLLOWUP_COMMENT_PUBLIC), a
queued job retried like the rating, posted once (`bridge.survey.replies.followup_comment`), and
the bot says it was passed on. A message after the window is an ordinary message.

What goes to Okdesk is only what was proven: while any answer of the survey waits for its
sender to be checked, nothing is posted, and the post job carries the text as it stood when
the last check ended (an answer kept after that waits for its own check). An answer whose
sender cannot be checked (the portal does not accept its token) is not kept, as a forged one.
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
from storage.survey import followups, surveys
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
        post_when_proven(session, survey_id=survey.id, now=now)
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
    return await _post(job, survey, vendors, settings)


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
            post_when_proven(session, survey_id=survey_id, now=now)

        return post
    # Nobody vouches for it as the contact's words: a token the portal does not accept, or
    # another person's.
    proof = "unverified" if owner is None else "forged"
    log.warning("followup.%s survey_id=%s claimed_user=%s", proof, survey_id, user_id)
    answer = str(payload.get("answer") or "") if isinstance(payload, dict) else ""

    def forget(session: Session, now: datetime) -> None:
        surveys.get_survey(session, survey_id=survey_id, lock=True)
        followups.forget_answer(session, survey_id=survey_id, answer=answer)
        # The answers proven beside it were waiting for this check.
        post_when_proven(session, survey_id=survey_id, now=now)

    return forget


def post_when_proven(session: Session, *, survey_id: int, now: datetime) -> None:
    """Queue the post of the answers kept so far, unless one still waits for its sender to be
    checked (that check's end posts them). One decision at a time per survey (its row lock),
    so two checks ending together do not each leave the posting to the other."""
    survey = surveys.get_survey(session, survey_id=survey_id, lock=True)
    if survey is None or not survey.followup_text:
        return
    if queue.has_pending(session, survey_id=survey_id, kind=JobKind.VERIFY_FOLLOWUP):
        return
    proven = {"text": survey.followup_text, "part": max(survey.followup_answers, 1)}
    queue.enqueue(session, kind=JobKind.POST_FOLLOWUP, now=now, survey_id=survey_id, payload=proven)


async def _post(job: Job, survey: Survey, vendors: Vendors, settings: Settings) -> Effect:
    survey_id = survey.id
    proven = _proven(job, survey)
    if survey_id is None or proven is None:
        return _nothing
    if not await post_answer(survey, vendors, settings, *proven) and survey.followup_posted_at:
        # Posted and passed on before (queued again when a forged answer beside it went).
        return _nothing
    log.info("followup.posted survey_id=%s issue_id=%s", survey_id, survey.issue_id)
    text = messages.text("followup_passed", survey_language(survey), number=survey.issue_id)

    def record(session: Session, now: datetime) -> None:
        followups.mark_posted(session, survey_id=survey_id, now=now)
        say_to(session, settings, survey, text, now)

    return record


def _proven(job: Job, survey: Survey) -> tuple[str, int] | None:
    """The text to post and its part: as the job carries it (a job queued by an earlier
    release carries none, and posts what the survey keeps)."""
    payload = json.loads(job.payload or "{}")
    if isinstance(payload, dict) and isinstance(payload.get("text"), str):
        return payload["text"], int(payload.get("part") or 1)
    if survey.followup_text is None:
        return None
    return survey.followup_text, max(survey.followup_answers, 1)


def _nothing(_session: Session, _now: datetime) -> None:
    return None
