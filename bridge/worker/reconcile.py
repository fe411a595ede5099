"""Reconciliation: open the surveys whose closure webhook never arrived.

Okdesk does not resend a webhook we did not answer (okdesk.md §2), so while every replica is
down, closures are lost. Every RECONCILE_INTERVAL one worker lists the tickets closed since
its watermark through the API and opens the surveys that are missing; the unique index on the
ticket's current survey makes an overlap (or two replicas at once) harmless.

Okdesk lists by date only, so the list holds older closures too: we keep those completed
since the watermark (and within RECONCILE_MAX_AGE), and read each ticket again before opening
its survey, acting on what Okdesk shows then rather than on the list.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from bridge.okdesk.data import Ticket
from bridge.okdesk.helpdesk import Helpdesk
from bridge.rules.decisions import ClosureDecision
from bridge.survey import closures
from outbound.errors import RejectedError
from storage import status
from storage.db import transaction
from storage.status import StatusKey
from storage.survey import surveys

log = logging.getLogger(__name__)

WATERMARK = StatusKey.RECONCILE_WATERMARK
PAGE_SIZE = 50


@dataclass(frozen=True)
class _Run:
    """One reconciliation run: where it looks, and for closures since when."""

    engine: Engine
    settings: Settings
    helpdesk: Helpdesk
    since: datetime
    now: datetime


def _claim_run(engine: Engine, settings: Settings, now: datetime) -> datetime | None:
    """The watermark to list from, when a run is due; marks the run as started."""
    interval = settings.reconcile_interval
    assert interval is not None
    with transaction(engine) as session:
        stored = status.get_status(session, key=WATERMARK, for_update=True)
        if stored is not None and now - stored.updated_at < interval:
            return None
        since = (
            datetime.fromisoformat(stored.value)
            if stored is not None
            else now - settings.reconcile_lookback
        )
        status.set_status(session, key=WATERMARK, value=since.isoformat(), now=now)
        return since


def _move_watermark(engine: Engine, now: datetime) -> None:
    """The next run lists the closures since this one started."""
    with transaction(engine) as session:
        status.set_status(session, key=WATERMARK, value=now.isoformat(), now=now)


def _has_survey(engine: Engine, issue_id: int) -> bool:
    """Whether the ticket's latest closure already has its survey."""
    with transaction(engine) as session:
        return surveys.current_survey(session, issue_id=issue_id) is not None


async def reconcile(
    engine: Engine, settings: Settings, helpdesk: Helpdesk, now: datetime
) -> int | None:
    """One reconciliation run if one is due: the number of surveys opened, or None."""
    if settings.reconcile_interval is None:
        return None
    watermark = await asyncio.to_thread(_claim_run, engine, settings, now)
    if watermark is None:
        return None
    # Closures older than RECONCILE_MAX_AGE are not surveyed: asking weeks later helps nobody.
    since = max(watermark, now - settings.reconcile_max_age)
    run = _Run(engine, settings, helpdesk, since, now)
    opened = 0
    page = 1
    while True:
        listed = await helpdesk.completed_tickets(
            settings.okdesk_trigger_statuses, since, page, PAGE_SIZE
        )
        for ticket in listed.tickets:
            opened += await _reconcile_ticket(run, ticket)
        if listed.listed < PAGE_SIZE:
            break
        page += 1
    await asyncio.to_thread(_move_watermark, engine, now)
    if opened:
        log.info("reconcile.opened surveys=%s", opened)
    return opened


def _completed_before(ticket: Ticket, since: datetime) -> bool:
    """Whether the ticket completed before `since` (an unknown time is kept)."""
    return ticket.completed_at is not None and ticket.completed_at < since


async def _reconcile_ticket(run: _Run, listed: Ticket) -> bool:
    """Open the survey of one listed ticket if Okdesk, read again, still shows it closed."""
    if listed.rate is not None or _completed_before(listed, run.since):
        return False
    if await asyncio.to_thread(_has_survey, run.engine, listed.id):
        return False
    ticket = await _still_closed(run, listed.id)
    if ticket is None:
        return False
    change = closures.StatusChange(
        ticket.id,
        ticket.status,
        ticket.contact_id or listed.contact_id,
        ticket.title or listed.title,
        ticket.engineer or listed.engineer,
        context=ticket.context,
        closed_at=ticket.completed_at or listed.completed_at,
    )
    decision = await asyncio.to_thread(
        closures.record_status_change, run.engine, run.settings, change, run.now
    )
    return decision is ClosureDecision.OPEN


async def _still_closed(run: _Run, issue_id: int) -> Ticket | None:
    """The ticket as Okdesk shows it now, when it still wants a survey (else why not is logged)."""
    try:
        ticket = await run.helpdesk.ticket(issue_id)
    except RejectedError as exc:
        log.warning("reconcile.unreadable issue_id=%s error=%s", issue_id, exc)
        return None
    reason = _why_not(run, ticket)
    if reason is not None:
        log.info("reconcile.skipped issue_id=%s reason=%s", issue_id, reason)
        return None
    return ticket


def _why_not(run: _Run, ticket: Ticket | None) -> str | None:
    """Why the ticket, as Okdesk shows it now, gets no survey; None when it gets one."""
    if ticket is None:
        return "the ticket is not in Okdesk"
    if ticket.status not in run.settings.okdesk_trigger_statuses:
        return f"the ticket is {ticket.status!r} now, no trigger status (reopened since listed)"
    if ticket.rate is not None:
        return "the ticket is rated"
    if _completed_before(ticket, run.since):
        return "the ticket completed before the watermark or RECONCILE_MAX_AGE"
    return None
