"""Applies the workflow's decisions to the database: intake of webhooks and answers, timeouts.

These run in one short transaction each and never call a vendor: what has to be said to
Okdesk or Bitrix24 is queued as jobs in the same transaction (an outbox), for the worker.
"""

from __future__ import annotations

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
            change.new_status, settings.okdesk_trigger_statuses, current
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


def _end(
    session: Session, survey_id: int, trigger: Trigger, now: datetime, **values: object
) -> bool:
    """Move a waiting survey to where `trigger` leads and have its buttons removed."""
    moved = queries.move_survey(
        session,
        survey_id,
        from_states=sources(trigger),
        values={
            "state": target(trigger),
            "deadline_at": None,
            "updated_at": now,
            "finished_at": now,
            **values,
        },
    )
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
    REPLAYED = "replayed"


@dataclass(frozen=True)
class Answer:
    """A Bitrix24 user's answer: a button (with the survey's token) or a typed reply.

    A typed reply that is not a rating has no score.
    """

    user_id: int
    dialog_id: str
    score: int | None
    survey_token: str | None = None
    reply_text: str | None = None
    # Set for a typed reply: the key under which a replay of the same message is recognised.
    replay_key: str | None = None


def record_answer(
    engine: Engine, settings: Settings, answer: Answer, now: datetime
) -> AnswerOutcome:
    """Rate the survey if the answer may; otherwise queue a short reply saying why not."""
    with transaction(engine) as session:
        if answer.replay_key is not None and not queries.first_sighting(
            session, answer.replay_key, now
        ):
            return AnswerOutcome.REPLAYED
        if answer.survey_token is not None:
            survey = queries.survey_by_token(session, answer.survey_token)
        else:
            survey = queries.latest_awaiting_survey(session, answer.user_id)
        if survey is None or survey.id is None:
            key = "survey_gone" if answer.survey_token else "nothing_to_rate"
            reply(session, answer.dialog_id, messages.text(key, settings.language), now)
            return AnswerOutcome.NO_SURVEY
        if answer.score is None:
            reply(session, answer.dialog_id, messages.text("how_to_rate", settings.language), now)
            return AnswerOutcome.NOT_A_RATING
        decision = decide_answer(survey, answer.user_id)
        if decision is AnswerDecision.NOT_YOURS:
            reply(session, answer.dialog_id, messages.text("not_yours", settings.language), now)
            return AnswerOutcome.NOT_YOURS
        if decision is AnswerDecision.NOT_WAITING:
            return AnswerOutcome.ALREADY_DONE
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


def reply(session: Session, dialog_id: str, text: str, now: datetime) -> None:
    """Queue a short bot message to a dialog."""
    queries.enqueue(session, JobKind.REPLY, now, payload={"dialog_id": dialog_id, "text": text})


def queue_reply(engine: Engine, dialog_id: str, text: str, now: datetime) -> None:
    """Queue a short bot message, in a transaction of its own."""
    with transaction(engine) as session:
        reply(session, dialog_id, text, now)


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
