"""Inbound events already handled, by key, so that a replay changes nothing."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.sql import insert
from storage.tables import SeenEvent


def first_sighting(session: Session, *, key: str, now: datetime) -> bool:
    """Record an inbound event key; False when it was seen before (a replay)."""
    statement = (
        insert(session, SeenEvent)
        .values(key=key, seen_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(SeenEvent.key)
    )
    # RETURNING rather than rowcount: psycopg reports -1 for INSERT .. ON CONFLICT here.
    return session.execute(statement).first() is not None


def was_seen(session: Session, *, key: str) -> bool:
    """Whether a key was recorded (and not yet forgotten by the purge)."""
    return session.get(SeenEvent, key) is not None
