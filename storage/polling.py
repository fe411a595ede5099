"""Fetching imbot.v2 events: which replica polls a bot (a lease), the offset that acknowledges
what is committed here, and when Bitrix24 last answered each bot (its poll lag).

Two pollers of one bot would acknowledge each other's events away (bitrix24-v2.md §4), so one
replica holds the lease at a time; the offset only ever grows, and is written only by the
lease's holder.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session, col

from storage.sql import insert
from storage.tables import EventPoll


def take_lease(
    session: Session, *, bot_id: int, holder: str, now: datetime, lease: timedelta
) -> bool:
    """Take or extend the lease on polling `bot_id`; False while another replica holds it."""
    session.execute(
        insert(session, EventPoll)
        .values(bot_id=bot_id)
        .on_conflict_do_nothing(index_elements=["bot_id"])
    )
    taken = session.execute(
        update(EventPoll)
        .where(col(EventPoll.bot_id) == bot_id)
        .where(
            or_(
                col(EventPoll.holder) == holder,
                col(EventPoll.holder).is_(None),
                col(EventPoll.lease_until) < now,
            )
        )
        .values(holder=holder, lease_until=now + lease)
        .returning(col(EventPoll.bot_id))
    )
    return taken.first() is not None


def release_lease(session: Session, *, bot_id: int, holder: str) -> None:
    """Give the lease up (a graceful stop), so another replica polls at once."""
    session.execute(
        update(EventPoll)
        .where(col(EventPoll.bot_id) == bot_id, col(EventPoll.holder) == holder)
        .values(holder=None, lease_until=None)
    )


def stored_offset(session: Session, *, bot_id: int) -> int | None:
    """The offset that acknowledges every event committed here (None before the first)."""
    found = session.execute(
        select(col(EventPoll.next_offset)).where(col(EventPoll.bot_id) == bot_id)
    ).first()
    return None if found is None else found[0]


def save_offset(
    session: Session, *, bot_id: int, holder: str, offset: int | None, now: datetime
) -> bool:
    """Record an answer of Event.get and the offset its committed events allow (never lower
    than the stored one); False when this replica no longer holds the lease."""
    row = session.get(EventPoll, bot_id, with_for_update=True, populate_existing=True)
    if row is None or row.holder != holder:
        return False
    row.polled_at = now
    if offset is not None and offset > (row.next_offset or 0):
        row.next_offset = offset
    session.add(row)
    return True


ANSWERED = select(col(EventPoll.bot_id), col(EventPoll.polled_at)).where(
    col(EventPoll.polled_at).is_not(None)
)


def last_answers(reader: Session | Connection) -> dict[int, datetime]:
    """When Bitrix24 last answered Event.get, by bot (its id as stored; a bot never answered
    is left out)."""
    found = reader.execute(ANSWERED).all()
    return {bot: moment for bot, moment in found if moment is not None}
