"""The question after a rating ("what went wrong?") and the person's answer to it.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from storage.sql import rowcount
from storage.tables import Survey


def ask(session: Session, *, survey_id: int, until: datetime, now: datetime) -> bool:
    """Record the question as asked (once per survey); its answer counts until `until`."""
    result = session.execute(
        update(Survey)
        .where(col(Survey.id) == survey_id, col(Survey.followup_asked_at).is_(None))
        .values(followup_asked_at=now, followup_until=until, updated_at=now)
    )
    return rowcount(result) == 1


def open_question(session: Session, *, bitrix_user_id: int, now: datetime) -> Survey | None:
    """The person's newest survey whose question still waits for its answer."""
    statement = (
        select(Survey)
        .where(Survey.bitrix_user_id == bitrix_user_id, col(Survey.followup_until) > now)
        .order_by(col(Survey.followup_asked_at).desc(), col(Survey.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def take_answer(session: Session, *, survey: Survey, text: str, now: datetime) -> bool:
    """Keep the answer with the survey (after those it kept), if the question is still open;
    it stays open until its window ends. False when another answer came first."""
    result = session.execute(
        update(Survey)
        .where(
            col(Survey.id) == survey.id,
            col(Survey.followup_until) > now,
            col(Survey.followup_answers) == survey.followup_answers,
        )
        .values(
            followup_text=text,
            followup_at=now,
            followup_answers=survey.followup_answers + 1,
            updated_at=now,
        )
    )
    return rowcount(result) == 1


def mark_posted(session: Session, *, survey_id: int, now: datetime) -> None:
    """Okdesk has the answer as the contact's comment."""
    session.execute(
        update(Survey).where(col(Survey.id) == survey_id).values(followup_posted_at=now)
    )


def forget_answer(session: Session, *, survey_id: int, answer: str) -> None:
    """One answer's sender was not the survey's person: that answer is not kept. The person's
    own answers kept beside it stay; when it cannot be told apart (cut at the text's limit),
    nothing kept is trusted and all of it goes."""
    survey = session.get(Survey, survey_id)
    if survey is None or survey.followup_text is None:
        return
    kept = _without(survey.followup_text, answer)
    session.execute(
        update(Survey)
        .where(col(Survey.id) == survey_id)
        .values(
            followup_text=kept or None,
            followup_answers=max(survey.followup_answers - 1, 0) if kept else 0,
        )
    )


def _without(text: str, answer: str) -> str:
    """`text` (answers joined by blank lines) without one `answer`; "" when it is not there."""
    if not answer or text == answer:
        return ""
    gap = "\n\n"
    if text.startswith(answer + gap):
        return text[len(answer) + 2 :]
    if text.endswith(gap + answer):
        return text[: -len(answer) - 2]
    return text.replace(gap + answer + gap, gap, 1) if gap + answer + gap in text else ""


def withdraw_question(session: Session, *, survey_id: int) -> None:
    """The question was never shown to the person: it is not open, and may be asked again."""
    session.execute(
        update(Survey)
        .where(col(Survey.id) == survey_id, col(Survey.followup_text).is_(None))
        .values(followup_asked_at=None, followup_until=None)
    )
