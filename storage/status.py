"""Small named facts about the running service, shared by every replica, and each portal's
trouble: blocked by Bitrix24 (OVERLOAD_LIMIT) or its bot deleted, kept on its `portal` row so
that one portal's trouble is never another's."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, case, delete, select, update
from sqlmodel import Session, col

from storage.portals import DEFAULT_NUMBER, Portal, PortalState, portal_numbered
from storage.sql import insert, rowcount
from storage.tables import ServiceStatus


class StatusKey(StrEnum):
    """The facts the service keeps (the values are the stored keys: never rename them)."""

    # When the worker last completed a pass (readiness reads it).
    WORKER_HEARTBEAT = "worker_heartbeat"
    # Older releases' "bot deleted" and "portal blocked" (its next probe time) of the one
    # portal: now each portal's state (`storage.portals`); read once, at the first start.
    BOT_DELETED = "bot_deleted"
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


# A named fact's value, as a column (no object for a session to keep): /metrics reads the
# heartbeat's (`storage.reading.gauges`).
VALUE = select(col(ServiceStatus.value)).where(col(ServiceStatus.key) == bindparam("key"))


def blocked(session: Session, *, number: int, probe_at: datetime, now: datetime) -> bool:
    """Bitrix24 blocked this portal (OVERLOAD_LIMIT): nothing but a probe at `probe_at`;
    whether it was not blocked before. A portal whose bot is deleted keeps saying so."""
    was = portal_numbered(session, number=number)
    first = was is None or was.blocked_until is None
    session.execute(
        update(Portal)
        .where(col(Portal.id) == number, col(Portal.state) != PortalState.REMOVED)
        .values(
            state=case(
                (col(Portal.state) == PortalState.BOT_DELETED, col(Portal.state)),
                else_=PortalState.BLOCKED.value,
            ),
            blocked_until=probe_at,
            updated_at=now,
        )
    )
    return first


# Built once: every settled outcome reads it.
_BLOCKED = select(col(Portal.id)).where(col(Portal.blocked_until).is_not(None))


def blocked_portals(session: Session) -> set[int]:
    """The portals Bitrix24 has blocked (their block not yet seen lifted)."""
    return {int(number) for number in session.execute(_BLOCKED).scalars()}


def unblocked(session: Session, *, number: int, now: datetime) -> bool:
    """Bitrix24 answered this portal again: its block has lifted; whether it was blocked."""
    lifted = session.execute(
        update(Portal)
        .where(col(Portal.id) == number, col(Portal.blocked_until).is_not(None))
        .values(
            state=case(
                (col(Portal.state) == PortalState.BLOCKED, PortalState.ACTIVE.value),
                else_=col(Portal.state),
            ),
            blocked_until=None,
            updated_at=now,
        )
    )
    return rowcount(lifted) > 0


def bot_deleted(session: Session, *, number: int, now: datetime) -> None:
    """The portal confirmed our bot is gone (a removed portal stays removed)."""
    session.execute(
        update(Portal)
        .where(col(Portal.id) == number, col(Portal.state) != PortalState.REMOVED)
        .values(state=PortalState.BOT_DELETED, updated_at=now)
    )


def bot_back(session: Session, *, number: int, now: datetime) -> None:
    """The bot posted on this portal: it exists again (blocked, if a block is still noted).

    Once a transaction per portal: a batch's fifty invitations tell it fifty times."""
    told = session.info.setdefault("bot_back", {})
    current = session.get_transaction()
    if told.get(number) is current:
        return
    told[number] = current
    session.execute(
        update(Portal)
        .where(col(Portal.id) == number, col(Portal.state) == PortalState.BOT_DELETED)
        .values(
            state=case(
                (col(Portal.blocked_until).is_not(None), PortalState.BLOCKED.value),
                else_=PortalState.ACTIVE.value,
            ),
            updated_at=now,
        )
    )


def adopt_service_flags(session: Session, *, now: datetime) -> list[str]:
    """Older releases kept "bot deleted" and "portal blocked" for the one portal as service
    facts: they become the `default` portal's state (once its row exists); which were."""
    adopted = []
    deleted = get_status(session, key=StatusKey.BOT_DELETED, for_update=True)
    block = get_status(session, key=StatusKey.PORTAL_BLOCKED, for_update=True)
    if block is not None:
        probe_at = datetime.fromisoformat(block.value)
        blocked(session, number=DEFAULT_NUMBER, probe_at=probe_at, now=now)
        clear_status(session, key=StatusKey.PORTAL_BLOCKED)
        adopted.append(str(StatusKey.PORTAL_BLOCKED))
    if deleted is not None:
        bot_deleted(session, number=DEFAULT_NUMBER, now=now)
        clear_status(session, key=StatusKey.BOT_DELETED)
        adopted.append(str(StatusKey.BOT_DELETED))
    return adopted
