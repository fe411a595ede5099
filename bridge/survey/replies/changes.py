"""Change of mind: the thank-you carries «Изменить оценку» for CHANGE_WINDOW.

Pressing it brings the five buttons back (the thank-you message is redrawn); the new score,
clicked or typed, replaces the old one in Okdesk, and each change is kept in `rating_change`
(from, to, when, by whom, click or text). When the window passes, a housekeeping chore takes
the button away; a late press is answered politely. A reopened ticket's rating is not changed.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.texts import messages
from bridge.config.settings import Settings
from bridge.rules import workflow
from bridge.survey.chat import say_to, survey_language
from storage import queue, seen
from storage.db import transaction
from storage.survey import changes, surveys
from storage.tables import JobKind, Survey, SurveyState

log = logging.getLogger(__name__)

WINDOW_BATCH = 500


def may_change(survey: Survey, user_id: int, now: datetime) -> bool:
    """The survey's person pressed «Изменить оценку» and its window is still open."""
    return survey.changing and may_press(survey, user_id, now)


def open_window(session: Session, settings: Settings, survey: Survey, now: datetime) -> None:
    """A person rated the survey: the thank-you offers the change until CHANGE_WINDOW ends."""
    if settings.change_window is not None and survey.id is not None and not survey.is_test:
        changes.open_window(session, survey_id=survey.id, until=now + settings.change_window)


def press_change(
    engine: Engine,
    settings: Settings,
    *,
    token: str,
    changes_made: int | None,
    user_id: int,
    now: datetime,
) -> str:
    """«Изменить оценку» was pressed: the five buttons, or a polite word why not.

    Each press counts for one change (issue 23, point 10): a press drawn before the survey's
    latest change (a replay, or a message left behind) is stale. A button drawn before the
    count was carried (`changes_made` None) counts as drawn before any change."""
    drawn_after = changes_made or 0
    with transaction(engine) as session:
        survey = surveys.survey_by_token(session, token=token)
        if survey is None or survey.id is None or survey.bitrix_user_id != user_id:
            return "ignored"
        if changes.start_change(
            session, survey_id=survey.id, user_id=user_id, changes_made=drawn_after, now=now
        ):
            return "change_offered"
        if may_press(survey, user_id, now) and survey.changes_made != drawn_after:
            stale_press(session, settings, survey, drawn_after, now)
            return "change_stale"
        late_press(session, settings, survey, now)
        return "change_closed"


def may_press(survey: Survey, user_id: int, now: datetime) -> bool:
    """The survey's person may still press «Изменить оценку» (its window is open)."""
    return (
        survey.state == SurveyState.RATED
        and survey.change_until is not None
        and survey.change_until > now
        and survey.bitrix_user_id == user_id
        and survey.current_issue_id == survey.issue_id
    )


def stale_press(
    session: Session, settings: Settings, survey: Survey, drawn_after: int, now: datetime
) -> None:
    """A press from before the latest change changes nothing; it is answered once."""
    if not seen.first_sighting(session, key=f"change-stale:{survey.id}:{drawn_after}", now=now):
        return
    log.warning("survey.change_press_stale survey_id=%s", survey.id)
    text = messages.text(
        "change_stale", survey_language(survey), number=survey.issue_id, score=survey.score
    )
    say_to(session, settings, survey, text, now)


def late_press(session: Session, settings: Settings, survey: Survey, now: datetime) -> None:
    """A late press (or one after the ticket was reopened) gets one short answer."""
    if not seen.first_sighting(session, key=f"change-closed:{survey.id}", now=now):
        return
    language = survey_language(survey)
    if survey.current_issue_id != survey.issue_id and survey.state == SurveyState.RATED:
        text = messages.text("cancelled", language, number=survey.issue_id)
    else:
        text = messages.text(
            "change_closed", language, number=survey.issue_id, score=survey.score or "—"
        )
    say_to(session, settings, survey, text, now)


def change(
    session: Session, survey: Survey, *, score: int, user_id: int, source: str, now: datetime
) -> bool:
    """Replace the survey's score (the caller checked `may_change`); False when too late."""
    assert survey.id is not None and survey.score is not None
    change = workflow.changed(survey.id, score=score)
    applied = changes.change_score(
        session,
        replace(change, jobs=tuple(j for j in change.jobs if j != JobKind.SEND_RATING)),
        from_score=survey.score,
        user_id=user_id,
        source=source,
        now=now,
    )
    if applied:
        log.info("survey.score_changed survey_id=%s source=%s", survey.id, source)
        # One rating write per ticket at a time: a write under way finds the new score when
        # it records (after this row's lock) and queues the next one itself.
        if not queue.has_pending(session, survey_id=survey.id, kind=JobKind.SEND_RATING):
            queue.enqueue(session, kind=JobKind.SEND_RATING, now=now, survey_id=survey.id)
    return applied


def close_windows(engine: Engine, now: datetime, batch: int = WINDOW_BATCH) -> int:
    """The housekeeping chore: windows that passed lose their button; how many were due."""
    with transaction(engine) as session:
        due = changes.due_windows(session, now=now, limit=batch)
        for survey_id in due:
            changes.close_window(session, survey_id=survey_id, now=now)
    return len(due)
