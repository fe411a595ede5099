"""No button that does nothing (issue 22, point 1).

Every bot message that carries a survey's buttons is recorded under the survey
(`storage.survey.messages`): the invitation, the reminder, «which ticket?», an ask-back. When the
survey ends (an answer, the timeout, a reopening, a withdrawal), the survey's message shows
the outcome and every other one shows it too, without buttons. A press on an ended survey
is answered once with what happened to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.errors import MessageNotEditableError
from bot.messenger import ChatMessage
from bot.texts import messages
from bot.texts.buttons import change_keyboard
from bot.texts.messages import Language
from bridge.config.settings import Settings
from bridge.outside.vendors import Vendors
from bridge.rules import workflow
from bridge.survey.chat import say_to, survey_language
from storage import queue, seen
from storage.survey import messages as survey_messages
from storage.survey import surveys
from storage.tables import JobKind, Survey, SurveyState

log = logging.getLogger(__name__)

Effect = Callable[[Session, datetime], None]


@dataclass(frozen=True)
class Outcome:
    """What the survey's message shows now, and the text its other messages get (None: they
    keep their buttons, the survey still takes an answer)."""

    message: ChatMessage
    closing: str | None


def outcome(survey: Survey) -> Outcome | None:
    """The survey's message once it stopped waiting for a first answer; None while it waits."""
    language = survey_language(survey)
    if survey.changing and survey.change_until is not None and survey.score is not None:
        text = messages.text("change_prompt", language, number=survey.issue_id, score=survey.score)
        return Outcome(ChatMessage(text, messages.rating_keyboard(survey.token)), None)
    ended = ended_text(survey, language)
    if ended is None:
        return None
    keyboard: dict[str, Any] | None = None
    if _thanked(survey) and survey.change_until is not None:
        keyboard = change_keyboard(survey.token, language, survey.changes_made)
    return Outcome(ChatMessage(ended, keyboard), ended)


def _thanked(survey: Survey) -> bool:
    return survey.state in (SurveyState.RATED, SurveyState.FAILED) and (
        survey.score is not None and not survey.automatic and not survey.is_test
    )


def ended_text(survey: Survey, language: Language) -> str | None:
    """What happened to a survey that takes no answer any more; None while it waits."""
    number = survey.issue_id
    if survey.state == SurveyState.CANCELLED:
        key = "withdrawn" if survey.reason == workflow.WITHDRAWN_REASON else "cancelled"
        return messages.text(key, language, number=number)
    if survey.is_test and survey.score is not None and not survey.automatic:
        return messages.text("test_thanks", language, score=survey.score)
    if survey.automatic:
        return messages.text("expired", language, number=number)
    if survey.score is not None:
        return messages.text("thanks", language, number=number, score=survey.score)
    if survey.state in (SurveyState.SKIPPED, SurveyState.FAILED):
        return messages.text("survey_gone", language)
    return None


async def take_away(
    survey: Survey, vendors: Vendors, closing: str | None, carrying: Sequence[int]
) -> Effect:
    """Show `closing`, without buttons, on every message `carrying` the survey's buttons but
    its own message."""
    others = [message_id for message_id in carrying if message_id != survey.message_id]
    if closing is None or not others:
        return _nothing

    async def close(message_id: int) -> None:
        try:
            await vendors.messenger.edit(message_id, ChatMessage(closing))
        except MessageNotEditableError:
            # Too old to edit (a portal setting): a press on it is answered instead.
            log.info("survey.buttons_kept survey_id=%s message_id=%s", survey.id, message_id)

    # All at once, so that they share a request (`bot.batching.shared`).
    await asyncio.gather(*(close(message_id) for message_id in others))

    def forget(session: Session, _now: datetime) -> None:
        survey_messages.forget(session, message_ids=others)

    return forget


def recorded(survey_ids: Sequence[int], message_id: int) -> Effect:
    """Record a message carrying these surveys' buttons; one that ended meanwhile loses them."""

    def record(session: Session, now: datetime) -> None:
        survey_messages.remember(session, survey_ids=survey_ids, message_id=message_id, now=now)
        for survey_id in survey_ids:
            survey = surveys.get_survey(session, survey_id=survey_id)
            if survey is not None and not takes_answers(survey, now):
                queue.enqueue(session, kind=JobKind.CLOSE_INVITATION, now=now, survey_id=survey_id)

    return record


def takes_answers(survey: Survey, now: datetime) -> bool:
    """Whether a score button of this survey still means something."""
    if survey.state in workflow.WAITING:
        return True
    return (
        survey.state == SurveyState.RATED
        and survey.changing
        and survey.change_until is not None
        and survey.change_until > now
    )


def ended_press(session: Session, settings: Settings, survey: Survey, now: datetime) -> None:
    """A score button of an ended survey was pressed by its person: say once what happened
    (already rated N, the time ran out, the ticket was reopened, or withdrawn)."""
    language = survey_language(survey)
    if survey.state == SurveyState.RATED and survey.score is not None and not survey.automatic:
        text = messages.text("already_rated", language, number=survey.issue_id, score=survey.score)
    else:
        text = ended_text(survey, language) or messages.text("survey_gone", language)
    if seen.first_sighting(session, key=f"ended-press:{survey.id}", now=now):
        say_to(session, settings, survey, text, now)


def _nothing(_session: Session, _now: datetime) -> None:
    return None
