"""A person's answer to a survey (a button or a typed reply), and the bot's short replies.

These run in one short transaction each and never call a vendor: what has to be said to
Okdesk or Bitrix24 is queued as jobs in the same transaction (an outbox), for the worker.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.portals.ids import same_portal
from bot.reading.replies import ReplyKind, read_reply
from bot.texts import messages
from bot.texts.messages import Language
from bridge.config import metrics
from bridge.config.settings import Settings
from bridge.okdesk.data import clean_text
from bridge.rules import workflow
from bridge.rules.decisions import AnswerFacts, AnswerOutcome, decide_answer, may_answer
from bridge.survey import alerting, buttons
from bridge.survey.chat import say, say_to
from bridge.survey.replies import changes, checks, followup, typed, unanswerable
from storage import queue, seen
from storage.db import after_commit, transaction
from storage.survey import asking, surveys
from storage.tables import JobKind, Survey, SurveyState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """A Bitrix24 user's answer: a button (with the survey's token) or a typed reply.

    A typed reply that is not a rating has no score; one that may be a rating but is not
    clearly one is `doubtful`, and the bot asks back with buttons instead of guessing. A clear
    typed score counts at once when it came over the authenticated event channel with no
    token (`channel_proven`: a webhook bot's events carry none, bitrix24.md §12); when the
    event carries the person's `access_token`, once our own portal says whose it is.
    """

    user_id: int
    score: int | None
    survey_token: str | None = None
    reply_text: str | None = None
    # Set for a typed reply: the key under which a replay of the same message is recognised.
    replay_key: str | None = None
    doubtful: bool = False
    access_token: str | None = None
    # The ticket a typed reply names («№12345 — 4»), when it names one.
    ticket: int | None = None
    channel_proven: bool = False

    @classmethod
    def typed(
        cls,
        *,
        user_id: int,
        text: str,
        replay_key: str | None,
        access_token: str | None,
        channel_proven: bool = False,
    ) -> Answer:
        """A reply the person typed in their private chat with the bot, read as an answer."""
        reading = read_reply(text)
        return cls(
            user_id=user_id,
            score=reading.score if reading.kind is not ReplyKind.OTHER else None,
            reply_text=clean_text(text, 1000),
            replay_key=replay_key,
            doubtful=reading.kind is ReplyKind.DOUBTFUL,
            access_token=access_token or None,
            ticket=reading.ticket,
            channel_proven=channel_proven,
        )

    @property
    def source(self) -> str:
        """`click` for a button, `text` for a typed reply (a metrics label)."""
        return "click" if self.survey_token is not None else "text"

    def facts(self) -> AnswerFacts:
        """What the decision reads of this answer."""
        return AnswerFacts(
            user_id=self.user_id,
            score=self.score,
            by_button=self.survey_token is not None,
            doubtful=self.doubtful,
            verifiable=bool(self.access_token),
            channel_proven=self.channel_proven,
        )


def record_answer(
    engine: Engine, settings: Settings, answer: Answer, now: datetime
) -> AnswerOutcome:
    """Rate the survey if the answer may; otherwise queue a short reply saying why not."""
    with transaction(engine) as session:
        outcome = _record(session, settings, answer, now)
    metrics.answered(answer.source, outcome)
    return outcome


def _record(session: Session, settings: Settings, answer: Answer, now: datetime) -> AnswerOutcome:
    if answer.replay_key is not None and not seen.first_sighting(
        session, key=answer.replay_key, now=now
    ):
        return AnswerOutcome.REPLAYED
    if answer.survey_token is not None:
        found = surveys.survey_by_token(session, token=answer.survey_token)
        survey = found if found and same_portal(found.bitrix_user_id, answer.user_id) else None
    else:
        routed = typed.route(session, settings, answer, now)
        if routed.outcome is not None:
            return routed.outcome
        survey = routed.survey
    changeable = survey is not None and changes.may_change(survey, answer.user_id, now)
    outcome = decide_answer(survey, answer.facts(), changeable=changeable)
    if outcome is AnswerOutcome.RATED and survey is not None:
        outcome = _rate(session, settings, survey, answer, now)
    elif outcome is AnswerOutcome.VERIFYING and survey is not None:
        _verify(session, survey, answer, now)
    elif outcome is AnswerOutcome.ALREADY_DONE and survey is not None:
        _late(session, settings, survey, answer, now)
    _respond(session, settings, answer, survey, outcome, now)
    return outcome


def _late(
    session: Session, settings: Settings, survey: Survey, answer: Answer, now: datetime
) -> None:
    """A score button pressed on an ended survey: say once what happened (`bridge.survey.buttons`),
    or, on a person's rating after its change window, that it can no longer change."""
    if answer.survey_token is None or survey.bitrix_user_id != answer.user_id:
        return
    if (
        settings.change_window is not None
        and survey.state == SurveyState.RATED
        and not survey.automatic
        and not survey.is_test
        and (survey.change_until is None or survey.change_until <= now)
    ):
        changes.late_press(session, settings, survey, now)
    else:
        buttons.ended_press(session, settings, survey, now)


def _verify(session: Session, survey: Survey, answer: Answer, now: datetime) -> None:
    """Queue the check that the typed score's sender is who the event says (the worker asks
    our portal whose access token it is; the token is erased when the check is done)."""
    if not checks.may_check(session, bitrix_user_id=answer.user_id, now=now):
        log.warning("answer.check_throttled survey_id=%s", survey.id)
        return
    payload = {
        "survey_id": survey.id,
        "user_id": answer.user_id,
        "score": answer.score,
        "reply_text": answer.reply_text,
        "access_token": answer.access_token,
    }
    queue.enqueue(session, kind=JobKind.VERIFY_REPLY, now=now, survey_id=survey.id, payload=payload)


def record_verified_answer(
    session: Session, settings: Settings, answer: Answer, *, survey_id: int, now: datetime
) -> AnswerOutcome:
    """Rate a survey with a typed score whose sender was verified (in the caller's session)."""
    survey = surveys.get_survey(session, survey_id=survey_id)
    outcome = AnswerOutcome.ALREADY_DONE
    if survey is not None and (
        may_answer(survey, answer.user_id) or changes.may_change(survey, answer.user_id, now)
    ):
        outcome = _rate(session, settings, survey, answer, now)
    # Counted once committed: a settle retried after a database error counts it once.
    after_commit(session, lambda: metrics.answered(answer.source, outcome))
    return outcome


def ask_back(
    session: Session, settings: Settings, answer: Answer, *, survey_id: int, now: datetime
) -> None:
    """Ask the person to confirm a typed score with a button (it could not be verified)."""
    survey = surveys.get_survey(session, survey_id=survey_id)
    if survey is not None and (
        may_answer(survey, answer.user_id) or changes.may_change(survey, answer.user_id, now)
    ):
        _respond(session, settings, answer, survey, AnswerOutcome.ASKED_BACK, now)


def _rate(
    session: Session, settings: Settings, survey: Survey, answer: Answer, now: datetime
) -> AnswerOutcome:
    assert survey.id is not None and answer.score is not None
    score, user_id = answer.score, answer.user_id
    if survey.state == SurveyState.RATED:
        if not changes.change(
            session, survey, score=score, user_id=user_id, source=answer.source, now=now
        ):
            return AnswerOutcome.ALREADY_DONE
        _confirm(session, settings, survey, score, now)
        followup.ask(session, settings, survey, score=score, now=now)
        alerting.rated(session, settings, survey, score, now)
        return AnswerOutcome.CHANGED
    change = workflow.answered(
        survey.id,
        score=answer.score,
        user_id=answer.user_id,
        reply_text=answer.reply_text,
        now=now,
    )
    if not surveys.apply_change(session, change, now=now):
        return AnswerOutcome.ALREADY_DONE
    changes.open_window(session, settings, survey, now)
    if answer.survey_token is None:
        _confirm(session, settings, survey, score, now)
    followup.ask(session, settings, survey, score=score, now=now)
    alerting.rated(session, settings, survey, score, now)
    return AnswerOutcome.RATED


def _confirm(
    session: Session, settings: Settings, survey: Survey, score: int, now: datetime
) -> None:
    """Confirm a typed score or a change by a new message under the person's reply (issue 22,
    point 2): the invitation's edit (it loses its buttons) is far up the chat, out of sight."""
    key = "test_thanks" if survey.is_test else "thanks"
    text = messages.text(key, language_of(survey), number=survey.issue_id, score=score)
    say_to(session, settings, survey, text, now)


# The hint a refused answer deserves (a click on a gone survey is told so plainly).
_HINTS = {
    AnswerOutcome.NOT_A_RATING: "how_to_rate",
    AnswerOutcome.NOT_YOURS: "not_yours",
}


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
    if outcome is AnswerOutcome.ASKED_BACK and survey is not None and answer.score is not None:
        text = messages.text("confirm_score", language, number=survey.issue_id, score=answer.score)
        keyboard = messages.rating_keyboard(survey.token)
        ids = [survey.id] if survey.id is not None else []
        say_to(session, settings, survey, text, now, keyboard=keyboard, survey_ids=ids)
        return
    key = _HINTS.get(outcome)
    if outcome is AnswerOutcome.NO_SURVEY:
        key = "survey_gone" if answer.survey_token else "nothing_to_rate"
    if key is None or not _may_write_to(session, answer.user_id):
        return
    text = messages.text(key, language)
    if answer.survey_token is None and outcome is AnswerOutcome.NOT_A_RATING:
        text = unanswerable.reply(
            session, settings, answer.user_id, answer.reply_text, survey, language, now
        )
    # Typed chatter gets one hint per survey (or one a day when nothing waits), never a storm.
    if answer.survey_token is None:
        about = f"survey:{survey.id}" if survey is not None else f"day:{now.date()}"
        if not seen.first_sighting(session, key=f"hint:{answer.user_id}:{about}", now=now):
            return
    say(session, settings, answer.user_id, text, now)


def _may_write_to(session: Session, user_id: int) -> bool:
    """Whether the bot may answer this person: it asked them, or they opened the chat with it
    (issue 23, point 7: an event names anyone, and the bot must not write to strangers)."""
    return asking.has_survey(session, bitrix_user_id=user_id) or seen.was_seen(
        session, key=_opened(user_id)
    )


def _opened(user_id: int) -> str:
    return f"welcome:{user_id}"


def welcome(
    engine: Engine, settings: Settings, user_id: int, language: Language, now: datetime
) -> None:
    """Greet a person who opened the chat with the bot: once, however often the event comes."""
    with transaction(engine) as session:
        if seen.first_sighting(session, key=_opened(user_id), now=now):
            say(session, settings, user_id, messages.text("welcome", language), now)


def language_of(survey: Survey) -> Language:
    """The language the survey's messages are written in."""
    return "en" if survey.language == "en" else "ru"
