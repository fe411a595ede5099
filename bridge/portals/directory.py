"""Which portals there are and which Okdesk company goes to which: map and unmap a company,
and each portal's line (name, domain, state, companies, waiting surveys, requests left).

The database only: nothing here talks to Bitrix24.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bridge.config.settings import Settings
from bridge.outside.vendors import budget_shape
from bridge.portals.texts import PortalError
from storage import budget, portals
from storage.db import transaction
from storage.portals import PortalState


@dataclass(frozen=True)
class PortalLine:
    """One portal as the list shows it."""

    name: str
    domain: str
    state: PortalState
    blocked_until: datetime | None
    companies: int
    waiting: int
    requests_left: int


def portal_lines(engine: Engine, settings: Settings) -> list[PortalLine]:
    """Every portal, removed ones too (their history stays), in the order they were added."""
    with transaction(engine) as session:
        rows = portals.all_portals(session)
        companies = portals.companies_per_portal(session)
        waiting = portals.waiting_per_portal(session, numbers=[r.id for r in rows])
        return [
            PortalLine(
                name=row.name,
                domain=row.domain,
                state=PortalState(row.state),
                blocked_until=row.blocked_until,
                companies=companies.get(row.id, 0),
                waiting=waiting.get(row.id, 0),
                requests_left=_requests_left(session, settings, row.id),
            )
            for row in rows
        ]


def map_company(engine: Engine, *, company_id: int, name: str) -> None:
    """Send the company's closures to the portal named `name`."""
    if company_id <= 0:
        raise PortalError("bad_company", usage=True)
    with transaction(engine) as session:
        portal = portals.portal_named(session, name=name)
        if portal is None or portal.state == PortalState.REMOVED:
            raise PortalError("no_portal", name=name)
        portals.map_company(session, company_id=company_id, portal_id=portal.id)


def unmap_company(engine: Engine, *, company_id: int) -> None:
    """Forget the company's portal (its closures go to `default`, if there is one)."""
    with transaction(engine) as session:
        had = portals.unmap_company(session, company_id=company_id)
    if not had:
        raise PortalError("not_mapped", company=company_id)


def _requests_left(session: Session, settings: Settings, number: int) -> int:
    """Requests the portal's shared budget would grant now (`bridge.outside.vendors`)."""
    shape = budget_shape(settings, number)
    left = budget.tokens_left(
        session, name=shape.name, now=time.time(), burst=shape.burst, per_second=shape.per_second
    )
    return int(left)
