"""Applies the workflow's decisions to the database: intake of webhooks and answers, timeouts.

These run in one short transaction each and never call a vendor: what has to be said to
Okdesk or Bitrix24 is queued as jobs in the same transaction (an outbox), for the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import messages
from bot.messages import Language
from bridge.settings import Settings
from bridge.workflow import (
    AnswerDecision,
    ClosureDecision,
    Trigger,
    decide_answer,
    decide_status_change,
    default_applies,
    sources,
    target,
)
from storage import queries
from storage.db import transaction
from storage.tables import JobKind, Survey, SurveyState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChange:
    """A ticket's move to a new status, as the Okdesk webhook told it."""

    issue_id: int
    new_status: str | None
    contact_id: int | None
    title: str | None
    engineer: str | None


def record_status_change(
    engine: Engine, settings: Settings, change: StatusChange, now: datetime
) -> ClosureDecision:
    """Open, cancel or release the ticket's survey; queue what follows."""
    with transaction(engine) as session:
        current = queries.current_survey(session, change.issue_id)
        decision = decide_status_change(
            change.new_status, settings.okdesk_trigger_statuses, current, settings.done_statuses
        )
        if decision is ClosureDecision.OPEN:
            return _open(session, settings, change, now)
        if decision in (ClosureDecision.CANCEL, ClosureDecision.RELEASE):
            assert current is not None and current.id is not None
            if decision is ClosureDecision.CANCEL:
                _end(session, current.id, Trigger.REOPENED, now)
            queries.release_current(session, current.id, now)
        return decision


def _open(
    session: Session, settings: Settings, change: StatusChange, now: datetime
) -> ClosureDecision:
    deadline = now + settings.rating_timeout if settings.default_rating is not None else None
    survey = Survey(
        token=queries.new_survey_token(),
        issue_id=change.issue_id,
        current_issue_id=change.issue_id,
        state=SurveyState.INVITING,
        language=settings.language,
        issue_title=change.title,
        engineer=change.engineer,
        contact_id=change.contact_id,
        created_at=now,
        updated_at=now,
        deadline_at=deadline,
    )
    survey_id = queries.open_survey(session, survey)
    if survey_id is None:
        return ClosureDecision.DUPLICATE
    queries.enqueue(session, JobKind.INVITE, now, survey_id=survey_id)
    return ClosureDecision.OPEN


def end_survey(
    session: Session,
    survey_id: int,
    trigger: Trigger,
    now: datetime,
    values: Mapping[str, object] | None = None,
    *,
    from_states: Iterable[SurveyState] | None = None,
) -> bool:
    """Move a survey to where `trigger` leads (from the trigger's states, or only these) and
    stop its clock; True when it moved."""
    return queries.move_survey(
        session,
        survey_id,
        from_states=sources(trigger) if from_states is None else from_states,
        values={
            "state": target(trigger),
            "deadline_at": None,
            "updated_at": now,
            "finished_at": now,
            **(values or {}),
        },
    )


def _end(
    session: Session, survey_id: int, trigger: Trigger, now: datetime, **values: object
) -> bool:
    """Move a waiting survey to where `trigger` leads and have its buttons removed."""
    moved = end_survey(session, survey_id, trigger, now, values)
    if moved:
        queries.enqueue(session, JobKind.CLOSE_INVITATION, now, survey_id=survey_id)
    return moved


class AnswerOutcome(StrEnum):
    """What became of an answer."""

    RATED = "rated"
    NOT_YOURS = "not_yours"
    ALREADY_DONE = "already_done"
    NO_SURVEY = "no_survey"
    NOT_A_RATING = "not_a_rating"
    ASKED_BACK = "asked_back"
    VERIFYING = "verifying"
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Answer:
    """A Bitrix24 user's answer: a button (with the survey's token) or a typed reply.

    A typed reply that is not a rating has no score; one that may be a rating but is not
    clearly one is `doubtful`, and the bot asks back with buttons instead of guessing. A clear
    typed score counts once the event's `access_token` is shown (through our own portal) to
    belong to the person it names: whoever holds only the handler URL cannot rate for others.
    """

    user_id: int
    dialog_id: str
    score: int | None
    survey_token: str | None = None
    reply_text: str | None = None
    # Set for a typed reply: the key under which a replay of the same message is recognised.
    replay_key: str | None = None
    doubtful: bool = False
    access_token: str | None = None


def record_answer(
    engine: Engine, settings: Settings, answer: Answer, now: datetime
) -> AnswerOutcome:
    """Rate the survey if the answer may; otherwise queue a short reply saying why not."""
    with transaction(engine) as session:
        if answer.replay_key is not None and not queries.first_sighting(
            session, answer.replay_key, now
        ):
            return AnswerOutcome.REPLAYED
        survey = _answered_survey(session, answer)
        outcome = _answer_outcome(survey, answer)
        if outcome is AnswerOutcome.RATED:
            assert survey is not None
            outcome = _rate(session, survey, answer, now)
        elif outcome is AnswerOutcome.VERIFYING:
            assert survey is not None and answer.access_token is not None
            _verify(session, survey, answer, now)
        _respond(session, settings, answer, survey, outcome, now)
        return outcome


def _answered_survey(session: Session, answer: Answer) -> Survey | None:
    if answer.survey_token is not None:
        return queries.survey_by_token(session, answer.survey_token)
    return queries.latest_awaiting_survey(session, answer.user_id)


def _answer_outcome(survey: Survey | None, answer: Answer) -> AnswerOutcome:
    """What an answer does to the survey it names (or the person's latest one)."""
    if survey is None:
        return AnswerOutcome.NO_SURVEY
    if answer.score is None:
        return AnswerOutcome.NOT_A_RATING
    decision = decide_answer(survey, answer.user_id)
    if decision is AnswerDecision.NOT_YOURS:
        return AnswerOutcome.NOT_YOURS
    if decision is AnswerDecision.NOT_WAITING:
        return AnswerOutcome.ALREADY_DONE
    if answer.survey_token is not None:
        return AnswerOutcome.RATED
    if answer.doubtful or not answer.access_token:
        return AnswerOutcome.ASKED_BACK
    return AnswerOutcome.VERIFYING


def _verify(session: Session, survey: Survey, answer: Answer, now: datetime) -> None:
    """Queue the check that the typed score's sender is who the event says (the worker asks
    our portal whose access token it is; the token is erased when the check is done)."""
    payload = {
        "survey_id": survey.id,
        "user_id": answer.user_id,
        "dialog_id": answer.dialog_id,
        "score": answer.score,
        "reply_text": answer.reply_text,
        "access_token": answer.access_token,
    }
    queries.enqueue(session, JobKind.VERIFY_REPLY, now, survey_id=survey.id, payload=payload)


def record_verified_answer(
    session: Session, settings: Settings, answer: Answer, survey_id: int, now: datetime
) -> AnswerOutcome:
    """Rate a survey with a typed score whose sender was verified (in the caller's session)."""
    survey = queries.get_survey(session, survey_id)
    if survey is None or decide_answer(survey, answer.user_id) is not AnswerDecision.ACCEPT:
        return AnswerOutcome.ALREADY_DONE
    return _rate(session, survey, answer, now)


def ask_back(
    session: Session, settings: Settings, answer: Answer, survey_id: int, now: datetime
) -> None:
    """Ask the person to confirm a typed score with a button (it could not be verified)."""
    survey = queries.get_survey(session, survey_id)
    if survey is not None and decide_answer(survey, answer.user_id) is AnswerDecision.ACCEPT:
        _respond(session, settings, answer, survey, AnswerOutcome.ASKED_BACK, now)


def _rate(session: Session, survey: Survey, answer: Answer, now: datetime) -> AnswerOutcome:
    assert survey.id is not None
    rated = _end(
        session,
        survey.id,
        Trigger.ANSWERED,
        now,
        score=answer.score,
        rated_by=answer.user_id,
        reply_text=(answer.reply_text or None) and answer.reply_text[:1000],
        answered_at=now,
        finished_at=None,
    )
    if not rated:
        return AnswerOutcome.ALREADY_DONE
    queries.enqueue(session, JobKind.SEND_RATING, now, survey_id=survey.id)
    return AnswerOutcome.RATED


def _respond(
    session: Session,
    settings: Settings,
    answer: Answer,
    survey: Survey | None,
    outcome: AnswerOutcome,
    now: datetime,
) -> None:
    """The short reply an outcome deserves, at most once where repeating it would nag."""
    language = settings.language if survey is None else language_of(survey)
    if outcome is AnswerOutcome.ASKED_BACK:
        assert survey is not None and answer.score is not None
        text = messages.text("confirm_score", language, number=survey.issue_id, score=answer.score)
        keyboard = messages.rating_keyboard(survey.token)
        reply(session, settings, answer.dialog_id, text, now, keyboard=keyboard)
        return
    key = {
        AnswerOutcome.NO_SURVEY: "survey_gone" if answer.survey_token else "nothing_to_rate",
        AnswerOutcome.NOT_A_RATING: "how_to_rate",
        AnswerOutcome.NOT_YOURS: "not_yours",
    }.get(outcome)
    if key is None:
        return
    # Typed chatter gets one hint per survey (or one a day when nothing waits), never a storm.
    if answer.survey_token is None:
        about = f"survey:{survey.id}" if survey is not None else f"day:{now.date()}"
        if not queries.first_sighting(session, f"hint:{answer.dialog_id}:{about}", now):
            return
    reply(session, settings, answer.dialog_id, messages.text(key, language), now)


def reply(
    session: Session,
    settings: Settings,
    dialog_id: str,
    text: str,
    now: datetime,
    *,
    keyboard: dict[str, object] | None = None,
) -> bool:
    """Queue a short bot message to a dialog, unless that dialog had its share this minute."""
    minute = now.replace(second=0, microsecond=0).isoformat()
    slots = (f"reply:{dialog_id}:{minute}:{n}" for n in range(settings.replies_per_minute))
    if not any(queries.first_sighting(session, slot, now) for slot in slots):
        log.info("reply.throttled dialog_id=%s", dialog_id[:40])
        return False
    payload: dict[str, object] = {"dialog_id": dialog_id, "text": text}
    if keyboard is not None:
        payload["keyboard"] = keyboard
    queries.enqueue(session, JobKind.REPLY, now, payload=payload)
    return True


def queue_reply(
    engine: Engine, settings: Settings, dialog_id: str, text: str, now: datetime
) -> None:
    """Queue a short bot message, in a transaction of its own."""
    with transaction(engine) as session:
        reply(session, settings, dialog_id, text, now)


TIMEOUT_BATCH = 500


def apply_timeouts(
    engine: Engine, settings: Settings, now: datetime, batch: int = TIMEOUT_BATCH
) -> int:
    """Give the default rating to surveys whose time ran out; returns how many were due."""
    with transaction(engine) as session:
        due = queries.due_for_timeout(session, now, batch)
        for survey in due:
            assert survey.id is not None
            if not default_applies(
                survey, settings.default_rating, settings.default_rating_when_undeliverable
            ):
                queries.update_survey(session, survey.id, {"deadline_at": None, "updated_at": now})
                continue
            if _end(
                session,
                survey.id,
                Trigger.TIMED_OUT,
                now,
                score=settings.default_rating,
                automatic=True,
                answered_at=now,
                finished_at=None,
            ):
                queries.enqueue(session, JobKind.SEND_RATING, now, survey_id=survey.id)
        return len(due)


def language_of(survey: Survey) -> Language:
    """The language the survey's messages are written in."""
    return "en" if survey.language == "en" else "ru"
