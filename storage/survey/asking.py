"""Who was asked lately, and what language a person's events showed (issue 10).

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, delete, func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from storage.sql import insert, rowcount
from storage.tables import ChatPerson, Survey, SurveyState

# A survey cancelled by a reopening asked about a closure that did not stand: it does not
# count as having asked the person.
_NOT_ASKING = [SurveyState.CANCELLED, SurveyState.SKIPPED]


def asked_since(session: Session, *, bitrix_user_id: int, since: datetime, other_than: int) -> bool:
    """Whether another survey closed at or after `since` reached this person, or is being
    sent to them now (its recipient recorded, its message not yet)."""
    statement = (
        select_columns(col(Survey.id))
        .where(
            col(Survey.bitrix_user_id) == bitrix_user_id,
            col(Survey.id) != other_than,
            or_(col(Survey.message_id).is_not(None), col(Survey.state) == SurveyState.INVITING),
            col(Survey.created_at) >= since,
            col(Survey.is_test).is_(False),
            col(Survey.state).not_in(_NOT_ASKING),
        )
        .limit(1)
    )
    return session.execute(statement).first() is not None


# Built once: every click and reply asks it.
_KEPT = select_columns(col(ChatPerson.bitrix_user_id)).where(
    col(ChatPerson.bitrix_user_id) == bindparam("user"),
    col(ChatPerson.language) == bindparam("language"),
    col(ChatPerson.seen_at) >= bindparam("since"),
)


def language_kept(session: Session, *, bitrix_user_id: int, language: str, since: datetime) -> bool:
    """Whether the person's language is stored as `language`, seen at `since` or later."""
    values = {"user": bitrix_user_id, "language": language, "since": since}
    return session.execute(_KEPT, values).first() is not None


def remember_language(
    session: Session, *, bitrix_user_id: int, language: str, now: datetime
) -> None:
    """Keep the language a person's event showed; their waiting surveys speak it from now on."""
    statement = insert(session, ChatPerson).values(
        bitrix_user_id=bitrix_user_id, language=language, seen_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["bitrix_user_id"], set_={"language": language, "seen_at": now}
        )
    )
    session.execute(
        update(Survey)
        .where(
            col(Survey.bitrix_user_id) == bitrix_user_id,
            col(Survey.state).in_([SurveyState.INVITING, SurveyState.AWAITING]),
            col(Survey.language) != language,
        )
        .values(language=language)
    )


def known_languages(session: Session, *, bitrix_user_ids: Iterable[int]) -> dict[int, str]:
    """The languages events showed for these people (those never seen are absent)."""
    ids = list(set(bitrix_user_ids))
    if not ids:
        return {}
    rows = session.execute(
        select_columns(col(ChatPerson.bitrix_user_id), col(ChatPerson.language)).where(
            col(ChatPerson.bitrix_user_id).in_(ids)
        )
    ).all()
    return {int(user_id): str(language) for user_id, language in rows}


def set_language(session: Session, *, survey_id: int, language: str) -> None:
    """Write a survey's messages in `language` from now on."""
    session.execute(update(Survey).where(col(Survey.id) == survey_id).values(language=language))


def forget_people(session: Session, *, seen_before: datetime) -> int:
    """Forget what events showed about people not seen since the cut-off."""
    result = session.execute(delete(ChatPerson).where(col(ChatPerson.seen_at) < seen_before))
    return rowcount(result)


def hold_person(session: Session, *, bitrix_user_id: int) -> None:
    """Until the transaction ends, no other one may decide whether to ask this person
    (PostgreSQL: an advisory lock; SQLite's writers already take turns)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select_columns(func.pg_advisory_xact_lock(_PERSON_LOCKS, bitrix_user_id % 2**31))
        )


# The advisory lock space of "deciding whether to ask a person" (any fixed number).
_PERSON_LOCKS = 81723451


def has_survey(session: Session, *, bitrix_user_id: int) -> bool:
    """Whether any survey was addressed to this person (the bot answers only them)."""
    statement = (
        select_columns(col(Survey.id)).where(col(Survey.bitrix_user_id) == bitrix_user_id).limit(1)
    )
    return session.execute(statement).first() is not None
