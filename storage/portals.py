"""The Bitrix24 portals the service asks people in, and which Okdesk company goes to which.

A portal's secrets (its webhook URL, the bot's CLIENT_ID or token, the events secret) are
stored sealed (`bridge.config.sealed`); this module never sees them in the clear. The portal
named `default` is the one of the settings (`BITRIX_WEBHOOK_URL`): its row holds no secret,
and its number is 0, so the ids stored before several portals existed stay its own
(`bot.portals.ids`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    String,
    Text,
    case,
    delete,
    func,
    text,
    update,
)
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Connection
from sqlmodel import Column, Field, Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage.columns import UTCDateTime
from storage.reading import waiting
from storage.sql import insert
from storage.tables import Job, Survey

Query = TypeVar("Query", bound=Select[Any])

DEFAULT = "default"
DEFAULT_NUMBER = 0
# Bitrix24 user ids of portal N are stored as N * SPAN + id (bot.portals.ids; same number).
SPAN = 1 << 40


class PortalState(StrEnum):
    """Whether a portal is asked: active, blocked by Bitrix24 (`blocked_until`: its next
    probe), its bot deleted, or removed by the operator (its history stays)."""

    ACTIVE = "active"
    BLOCKED = "blocked"
    BOT_DELETED = "bot_deleted"
    REMOVED = "removed"


class Portal(SQLModel, table=True):
    """One Bitrix24 portal: where it is, its bot, its sealed secrets and its state."""

    __tablename__ = "portal"

    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    name: str = Field(sa_column=Column(String(40), nullable=False, unique=True))
    domain: str = Field(max_length=255)
    member_id: str | None = Field(default=None, max_length=64)
    api: str = Field(max_length=2)
    bot_code: str = Field(max_length=50)
    bot_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # The path segment of the portal's own event route (no secret: `events_token` is).
    route_key: str | None = Field(default=None, sa_column=Column(String(32), unique=True))
    webhook_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    client_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    bot_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    events_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    state: PortalState = Field(sa_column=Column(String(16), nullable=False))
    blocked_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PortalCompany(SQLModel, table=True):
    """An Okdesk company whose people are asked in one portal (made by the operator)."""

    __tablename__ = "portal_company"

    company_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    portal_id: int = Field(sa_column=Column(Integer, nullable=False, index=True))


def all_portals(session: Session) -> list[Portal]:
    """Every portal, removed ones too, by number."""
    return list(session.exec(select(Portal).order_by(col(Portal.id))).all())


class PortalFacts(NamedTuple):
    """What /metrics reports of a portal, and the worker's claim reads (`portal_facts`): its API
    says how its request budget is shaped; `blocked_until`, when its noted block ends."""

    id: int
    name: str
    state: str
    api: str
    blocked_until: datetime | None = None


FACTS = select_columns(
    col(Portal.id), col(Portal.name), col(Portal.state), col(Portal.api), col(Portal.blocked_until)
).order_by(col(Portal.id))


def portal_facts(reader: Session | Connection) -> list[PortalFacts]:
    """Every portal's `PortalFacts`, removed ones too, by number: columns, not `Portal` objects,
    which cost /metrics ten times the read itself, and the worker's every pass a millisecond."""
    return [PortalFacts(*row) for row in reader.execute(FACTS)]


def portal_named(session: Session, *, name: str, lock: bool = False) -> Portal | None:
    """The portal with this name, if any."""
    query = select(Portal).where(col(Portal.name) == name)
    return session.exec(query.with_for_update() if lock else query).first()


def portal_numbered(session: Session, *, number: int) -> Portal | None:
    """The portal with this number, if any."""
    return session.get(Portal, number, populate_existing=True)


def portal_by_route(session: Session, *, route_key: str) -> Portal | None:
    """The portal whose event route has this key, if any."""
    return session.exec(select(Portal).where(col(Portal.route_key) == route_key)).first()


def add_default(session: Session, *, values: dict[str, object], now: datetime) -> bool:
    """Store the settings' portal as `default` unless a row of that name exists; whether
    it was added."""
    row = {**values, "id": DEFAULT_NUMBER, "name": DEFAULT, "state": PortalState.ACTIVE}
    added = session.execute(
        insert(session, Portal)
        .values(**row, created_at=now, updated_at=now)
        .on_conflict_do_nothing()
        .returning(col(Portal.id))
    )
    return added.first() is not None


def next_number(session: Session) -> int:
    """The number a new portal gets (0 stays the default's)."""
    highest = session.execute(select(func.max(col(Portal.id)))).scalar()
    return max(int(highest or 0), DEFAULT_NUMBER) + 1


def save_portal(session: Session, portal: Portal, *, now: datetime) -> None:
    """Store a new or changed portal."""
    portal.updated_at = now
    session.add(portal)
    session.flush()


def map_company(session: Session, *, company_id: int, portal_id: int) -> None:
    """Ask this company's people in this portal from now on."""
    session.execute(
        insert(session, PortalCompany)
        .values(company_id=company_id, portal_id=portal_id)
        .on_conflict_do_update(index_elements=["company_id"], set_={"portal_id": portal_id})
    )


def unmap_company(session: Session, *, company_id: int) -> bool:
    """Forget the company's portal; whether it had one."""
    gone = session.execute(
        delete(PortalCompany)
        .where(col(PortalCompany.company_id) == company_id)
        .returning(col(PortalCompany.company_id))
    )
    return gone.first() is not None


def company_portals(session: Session, *, company_ids: Sequence[int]) -> dict[int, int]:
    """Company id → portal number, for the companies that have one."""
    if not company_ids:
        return {}
    rows = session.execute(
        select(col(PortalCompany.company_id), col(PortalCompany.portal_id)).where(
            col(PortalCompany.company_id).in_(list(set(company_ids)))
        )
    ).all()
    return {int(company): int(portal) for company, portal in rows}


def companies_per_portal(session: Session) -> dict[int, int]:
    """Portal number → how many companies are mapped to it."""
    rows = session.execute(
        select(col(PortalCompany.portal_id), func.count()).group_by(col(PortalCompany.portal_id))
    ).all()
    return {int(portal): int(count) for portal, count in rows}


# A portal's surveys waiting for an answer (its person's portal, set with the person's id), as
# `ix_survey_awaiting` holds them. Written out, not bound: SQLite uses a partial index only for
# a condition it can read when the statement is prepared (as `storage.queue.PENDING`).
AWAITING = text("survey.state = 'awaiting'")


def waiting_per_portal(reader: Session | Connection, *, numbers: Sequence[int]) -> dict[int, int]:
    """Portal number → surveys waiting for an answer there: the counts triggers keep
    (`storage.reading.waiting`), not a count of the surveys (a scrape of /metrics reads them)."""
    counts = waiting.per_portal(reader)
    return {number: counts.get(number, 0) for number in numbers}


def waiting_in(number: int) -> SelectOfScalar[int | None]:
    """The ids of a portal's surveys waiting for an answer, from `ix_survey_awaiting`."""
    return select(col(Survey.id)).where(AWAITING, col(Survey.portal) == number)


def waiting_survey_ids(session: Session, *, number: int) -> list[int]:
    """The surveys waiting for an answer in this portal."""
    rows = session.execute(waiting_in(number)).all()
    return [int(survey_id) for (survey_id,) in rows]


def set_state(
    session: Session,
    *,
    number: int,
    state: PortalState,
    now: datetime,
    until: datetime | None = None,
) -> None:
    """Record the portal's state (a removed portal stays removed)."""
    session.execute(
        update(Portal)
        .where(col(Portal.id) == number, col(Portal.state) != PortalState.REMOVED)
        .values(state=state, blocked_until=until, updated_at=now)
    )


def pin_member(session: Session, *, number: int, member_id: str, now: datetime) -> str | None:
    """Pin `member_id` as the portal's installation unless one is pinned already; the one
    pinned now (this one, or the one pinned before)."""
    session.execute(
        update(Portal)
        .where(col(Portal.id) == number, col(Portal.member_id).is_(None))
        .values(member_id=member_id, updated_at=now)
    )
    pinned = session.execute(select(col(Portal.member_id)).where(col(Portal.id) == number))
    return pinned.scalar()


def job_portal() -> ColumnElement[int]:
    """The portal a job speaks to (its rows joined by `with_job_portal`): its survey's
    person's, else the portal its company is mapped to, else `default` (a job of no survey)."""
    user = col(Survey.bitrix_user_id)
    mapped = func.coalesce(col(PortalCompany.portal_id), DEFAULT_NUMBER)
    return case((user.is_not(None), user // SPAN), else_=mapped)


def with_job_portal(statement: Query) -> Query:
    """A query on jobs, joined to what `job_portal` reads."""
    return statement.outerjoin(Survey, col(Survey.id) == col(Job.survey_id)).outerjoin(
        PortalCompany, col(PortalCompany.company_id) == col(Survey.company_id)
    )


def portal_of_job(session: Session, *, job: Job) -> int:
    """The portal a job speaks to (a job of no survey may name one in its payload)."""
    named = json.loads(job.payload or "{}").get("portal")
    if isinstance(named, int):
        return named
    if job.survey_id is None:
        return DEFAULT_NUMBER
    query = with_job_portal(select(job_portal()).select_from(Job)).where(col(Job.id) == job.id)
    return int(session.execute(query).scalar() or DEFAULT_NUMBER)
