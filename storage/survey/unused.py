"""Texts the bot could not use (issue 22, point 3): kept for the operator, then forgotten.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from storage.tables import UnusedMessage

TEXT_LIMIT = 1000


def keep(
    session: Session, *, bitrix_user_id: int, survey_id: int | None, text: str, now: datetime
) -> None:
    """Keep a text the bot could not use."""
    session.add(
        UnusedMessage(
            survey_id=survey_id,
            bitrix_user_id=bitrix_user_id,
            text=text[:TEXT_LIMIT],
            received_at=now,
        )
    )


def latest(session: Session, *, start: datetime, end: datetime, limit: int) -> list[UnusedMessage]:
    """The newest texts the bot could not use, received in [start, end)."""
    statement = (
        select(UnusedMessage)
        .where(col(UnusedMessage.received_at) >= start, col(UnusedMessage.received_at) < end)
        .order_by(col(UnusedMessage.received_at).desc(), col(UnusedMessage.id).desc())
        .limit(limit)
    )
    return list(session.exec(statement).all())


def forget(session: Session, *, received_before: datetime) -> None:
    """Personal data: gone after PERSONAL_DATA_RETENTION, like the replies."""
    session.execute(delete(UnusedMessage).where(col(UnusedMessage.received_at) < received_before))
