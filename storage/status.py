"""Small named facts about the running service, shared by every replica."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete
from sqlmodel import Session, col

from storage.sql import insert
from storage.tables import ServiceStatus


class StatusKey(StrEnum):
    """The facts the service keeps (the values are the stored keys: never rename them)."""

    # When the worker last completed a pass (readiness reads it).
    WORKER_HEARTBEAT = "worker_heartbeat"
    # Bitrix24 told us the bot was deleted; cleared when the bot can post again.
    BOT_DELETED = "bot_deleted"
    # Bitrix24 blocked the portal (OVERLOAD_LIMIT); the value is the next probe time.
    PORTAL_BLOCKED = "portal_blocked"
    # Our portal installation's member_id as older releases learned it (no longer read).
    BITRIX_MEMBER_ID = "bitrix_member_id"
    # The member_id of the latest event refused for not being BITRIX_MEMBER_ID's.
    BITRIX_MEMBER_MISMATCH = "bitrix_member_mismatch"
    # Which `auth` keys the portal's events carry (no values), told once a process.
    BITRIX_EVENT_AUTH = "bitrix_event_auth"
    # Up to when Okdesk's completed tickets were reconciled.
    RECONCILE_WATERMARK = "reconcile_watermark"
    # Fetched imbot.v2 events that failed alike too often and were set aside (JSON list).
    EVENTS_SET_ASIDE = "events_set_aside"
    # Whether the incoming webhook's owner is a portal administrator, as `admin check` found
    # (`administrator` or `not_administrator`).
    WEBHOOK_OWNER = "webhook_owner"


def set_status(session: Session, *, key: StatusKey, value: str, now: datetime) -> None:
    """Store a named fact about the service."""
    statement = insert(session, ServiceStatus).values(key=key, value=value, updated_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_at": now}
    )
    session.execute(statement)


def first_status(session: Session, *, key: StatusKey, value: str, now: datetime) -> str:
    """Store a named fact unless one is stored already; the stored value either way."""
    session.execute(
        insert(session, ServiceStatus)
        .values(key=key, value=value, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    stored = session.get(ServiceStatus, str(key), populate_existing=True)
    assert stored is not None
    return stored.value


def clear_status(session: Session, *, key: StatusKey) -> None:
    """Forget a named fact about the service."""
    session.execute(delete(ServiceStatus).where(col(ServiceStatus.key) == key))


def get_status(
    session: Session, *, key: StatusKey, for_update: bool = False
) -> ServiceStatus | None:
    """A named fact about the service, if recorded (locked for this transaction if asked)."""
    return session.get(ServiceStatus, str(key), with_for_update=for_update or None)
