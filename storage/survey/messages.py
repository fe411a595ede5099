"""The bot messages that carry a survey's buttons (issue 22, point 1).

The invitation, the reminder, «which ticket?» and an ask-back are each recorded under every
survey whose buttons they carry; when a survey ends, each of its messages loses its buttons
and is forgotten here. None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy import select as select_columns
from sqlmodel import Session, col

from storage.survey.bulk import ManyRows
from storage.tables import SurveyMessage

# Many rows in one INSERT (a batch of invitations: one statement, not one a message).
_MESSAGES = SurveyMessage.__table__  # type: ignore[attr-defined]
_INSERT = ManyRows(_MESSAGES, ["survey_id", "message_id", "sent_at"])


def remember(
    session: Session, *, survey_ids: Iterable[int], message_id: int, now: datetime
) -> None:
    """Message `message_id` carries the buttons of each of these surveys."""
    remember_each(session, dict.fromkeys(survey_ids, message_id), now=now)


def remember_each(session: Session, messages: Mapping[int, int], *, now: datetime) -> None:
    """Each message carries the buttons of its survey (survey id → message id)."""
    rows = [
        {"survey_id": survey_id, "message_id": message_id, "sent_at": now}
        for survey_id, message_id in sorted(messages.items())
    ]
    if rows:
        # One cached statement, no ORM object (each cost a flush); what the session holds is
        # flushed first, so a survey added to it exists for the foreign key.
        session.flush()
        _INSERT.execute(session.connection(), rows)


def with_buttons(session: Session, *, survey_id: int) -> Sequence[int]:
    """The messages that still carry this survey's buttons, oldest first."""
    rows = session.execute(
        select_columns(col(SurveyMessage.message_id))
        .where(col(SurveyMessage.survey_id) == survey_id)
        .order_by(col(SurveyMessage.id))
    ).all()
    return list(dict.fromkeys(int(message_id) for (message_id,) in rows))


def forget(session: Session, *, message_ids: Iterable[int]) -> None:
    """These messages lost their buttons (for every survey they carried)."""
    ids = list(set(message_ids))
    if ids:
        session.execute(delete(SurveyMessage).where(col(SurveyMessage.message_id).in_(ids)))
