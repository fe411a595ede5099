"""The team's messages and their one send each: opened once by key, then posted by one job
attempt at a time, and taken («Беру»).

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlmodel import Session, col

from storage.sql import insert, rowcount
from storage.tables import Job, JobState
from storage.team.tables import TeamMessage


class Sending(StrEnum):
    """Whether a job attempt may post a team message now."""

    MAY = "may"  # it holds the message's sending lease now
    BUSY = "busy"  # another live attempt is posting it
    DONE = "done"  # posted already, or its fate is unknown: never sent again
    UNSURE = "unsure"  # an attempt died between sending and recording: marked, not sent


def alert_key(survey_id: int) -> str:
    """The key of a survey's alert."""
    return f"alert:{survey_id}"


def digest_key(due: str) -> str:
    """The key of the digest due on a day (`2026-12-07`)."""
    return f"digest:{due}"


def open_message(
    session: Session, *, key: str, now: datetime, survey_id: int | None = None
) -> bool:
    """Record that this message is to be posted; False when it was recorded before."""
    statement = (
        insert(session, TeamMessage)
        .values(key=key, survey_id=survey_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(TeamMessage.key)
    )
    return session.execute(statement).first() is not None


def message(session: Session, *, key: str) -> TeamMessage | None:
    """The team message with this key."""
    return session.get(TeamMessage, key)


def alert_of(session: Session, *, survey_id: int) -> TeamMessage | None:
    """The survey's alert, if one was opened."""
    return message(session, key=alert_key(survey_id))


def start_sending(session: Session, *, key: str, lease: str, now: datetime) -> Sending:
    """Take the message's sending lease for the job attempt holding `lease`, unless it is
    posted, being posted by a live attempt, or was left by one that died (then it is marked
    unsure and never sent again: Bitrix24 may have it, and we cannot ask)."""
    found = session.get(TeamMessage, key, with_for_update=True)
    if found is None or found.message_id is not None or found.unsure_at is not None:
        return Sending.DONE
    held = found.sending_lease
    if held is not None and held != lease:
        if _alive(session, held, now):
            return Sending.BUSY
        found.unsure_at, found.sending_lease = now, None
        session.flush()
        return Sending.UNSURE
    found.sending_lease = lease
    session.flush()
    return Sending.MAY


def _alive(session: Session, lease: str, now: datetime) -> bool:
    """Whether a job attempt holding `lease` still runs (its lease has not run out)."""
    statement = select(func.count()).where(
        col(Job.lease_token) == lease,
        col(Job.state) == JobState.PENDING,
        col(Job.available_at) > now,
    )
    return bool(session.execute(statement).scalar_one())


def stop_sending(session: Session, *, key: str, lease: str) -> None:
    """The attempt holding `lease` failed before Bitrix24 took the message: free it."""
    session.execute(
        update(TeamMessage)
        .where(col(TeamMessage.key) == key, col(TeamMessage.sending_lease) == lease)
        .values(sending_lease=None)
    )


def posted(session: Session, *, key: str, message_id: int, now: datetime) -> None:
    """Bitrix24 took the message: its id, and the sending lease freed."""
    session.execute(
        update(TeamMessage)
        .where(col(TeamMessage.key) == key)
        .values(message_id=message_id, posted_at=now, sending_lease=None, unsure_at=None)
    )


def take(
    session: Session,
    *,
    survey_id: int,
    user_id: int,
    name: str,
    message_id: int | None,
    now: datetime,
) -> bool:
    """«Беру»: record who took the alert, once; the pressed message is the alert's when its
    own id was never recorded. False when it was taken before (or there is no alert)."""
    values: dict[str, object] = {"taken_by_id": user_id, "taken_by": name, "taken_at": now}
    if message_id is not None:
        values["message_id"] = func.coalesce(TeamMessage.message_id, message_id)
    result = session.execute(
        update(TeamMessage)
        .where(col(TeamMessage.key) == alert_key(survey_id), col(TeamMessage.taken_at).is_(None))
        .values(**values)
    )
    return rowcount(result) == 1


def takers(session: Session, *, survey_ids: Iterable[int]) -> dict[int, TeamMessage]:
    """The taken alerts of these surveys, by survey id (an alert nobody took is left out)."""
    ids = list(survey_ids)
    if not ids:
        return {}
    statement = select(TeamMessage).where(
        col(TeamMessage.survey_id).in_(ids), col(TeamMessage.taken_at).is_not(None)
    )
    return {m.survey_id: m for m in session.scalars(statement) if m.survey_id is not None}
