"""Which survey a typed reply is about (issue 10, points 1, 2 and 6).

While the person's follow-up question is open, their next text is its answer, unless it is a
score after «Изменить оценку» or one naming a waiting ticket. A score goes to the one survey
waiting (for a first score, or a changed one after «Изменить оценку»); with several waiting,
to the ticket the text names («№12345 — 4»), else the bot asks which, with a button per ticket
carrying the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bot.texts import messages
from bot.texts.buttons import ticket_keyboard
from bridge.config.settings import Settings
from bridge.rules.decisions import AnswerOutcome
from bridge.survey import alerting
from bridge.survey.chat import say_to, survey_language
from bridge.survey.replies import followup
from storage.survey import changes, surveys
from storage.tables import Survey


class TypedReply(Protocol):
    """What routing reads of a typed answer (`bridge.survey.replies.answers.Answer`)."""

    @property
    def user_id(self) -> int: ...

    @property
    def score(self) -> int | None: ...

    @property
    def ticket(self) -> int | None: ...

    @property
    def reply_text(self) -> str | None: ...

    @property
    def access_token(self) -> str | None: ...

    @property
    def channel_proven(self) -> bool: ...


@dataclass(frozen=True)
class Routed:
    """The survey a reply is about, or the outcome when routing already dealt with it."""

    survey: Survey | None
    outcome: AnswerOutcome | None = None


def route(session: Session, settings: Settings, answer: TypedReply, now: datetime) -> Routed:
    """The survey a typed reply is about (see the module's docstring)."""
    changing = changes.changing_surveys(session, bitrix_user_id=answer.user_id, now=now)
    waiting = surveys.awaiting_surveys(session, bitrix_user_id=answer.user_id) + changing
    named = any(survey.issue_id == answer.ticket for survey in waiting)
    # While a question is open the next text is its answer (issue 22, point 5: «Ужасно долго»
    # about A must not rate B), unless it is a score for the change just asked for, or for a
    # waiting ticket it names.
    if answer.score is None or not (changing or named):
        taken = followup.take(
            session,
            user_id=answer.user_id,
            text=answer.reply_text or "",
            access_token=answer.access_token,
            channel_proven=answer.channel_proven,
            is_score=answer.score is not None,
            now=now,
        )
        if taken is not None and taken.id is not None:
            alerting.said_more(session, settings, taken.id, now)
            return Routed(taken, AnswerOutcome.FOLLOWED_UP)
    if answer.score is not None and answer.ticket is not None:
        chosen = [survey for survey in waiting if survey.issue_id == answer.ticket]
        if chosen:
            return Routed(chosen[0])
        if waiting:
            text = messages.text("not_waiting", survey_language(waiting[0]), number=answer.ticket)
            say_to(session, settings, waiting[0], text, now)
            return Routed(None, AnswerOutcome.NO_SURVEY)
    if answer.score is not None and len(waiting) > 1:
        _ask_which(session, settings, waiting, answer.score, now)
        return Routed(None, AnswerOutcome.WHICH_TICKET)
    return Routed(waiting[0] if waiting else None)


def _ask_which(
    session: Session, settings: Settings, waiting: list[Survey], score: int, now: datetime
) -> None:
    language = survey_language(waiting[0])
    choices = [(survey.token, survey.issue_id, survey.issue_title) for survey in waiting]
    keyboard = ticket_keyboard(choices, score, language)
    say_to(
        session,
        settings,
        waiting[0],
        messages.text("which_ticket", language, score=score),
        now,
        keyboard=keyboard,
        survey_ids=[survey.id for survey in waiting[: len(keyboard["BUTTONS"])] if survey.id],
    )
