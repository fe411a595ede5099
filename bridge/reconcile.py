"""Reconciliation: open the surveys whose closure webhook never arrived.

Okdesk does not resend a webhook we did not answer (okdesk.md §2), so while every replica is
down, closures are lost. Every RECONCILE_INTERVAL one worker lists the tickets closed since
its watermark through the API and opens the surveys that are missing; the unique index on the
ticket's current survey makes an overlap (or two replicas at once) harmless.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bridge import service
from bridge.okdesk import OkdeskClient
from bridge.settings import Settings
from bridge.workflow import ClosureDecision
from storage import queries
from storage.db import transaction

log = logging.getLogger(__name__)

WATERMARK = "reconcile_watermark"
PAGE_SIZE = 50
# Okdesk reads `completed_since` in the account's time zone, which we do not know: ask from
# 14 hours earlier (the widest UTC offset), and let the duplicate check drop what we had.
ZONE_MARGIN = timedelta(hours=14)


def _claim_run(engine: Engine, settings: Settings, now: datetime) -> datetime | None:
    """The watermark to list from, when a run is due; marks the run as started."""
    interval = settings.reconcile_interval
    assert interval is not None
    with transaction(engine) as session:
        status = queries.get_status(session, WATERMARK, for_update=True)
        if status is not None and now - status.updated_at < interval:
            return None
        since = (
            datetime.fromisoformat(status.value)
            if status is not None
            else now - settings.reconcile_lookback
        )
        queries.set_status(session, WATERMARK, since.isoformat(), now)
        return since


async def reconcile(
    engine: Engine, settings: Settings, okdesk: OkdeskClient, now: datetime
) -> int | None:
    """One reconciliation run if one is due: the number of surveys opened, or None."""
    if settings.reconcile_interval is None:
        return None
    since = await asyncio.to_thread(_claim_run, engine, settings, now)
    if since is None:
        return None
    completed_since = (since - ZONE_MARGIN).strftime("%d-%m-%Y %H:%M")
    opened = 0
    page = 1
    while True:
        issues = await okdesk.closed_issues(
            settings.okdesk_trigger_statuses, completed_since, page, PAGE_SIZE
        )
        for issue in issues:
            if issue.rated:
                continue
            change = service.StatusChange(
                issue.id,
                settings.okdesk_trigger_statuses[0],
                issue.contact_id,
                issue.title,
                issue.engineer,
            )
            decision = await asyncio.to_thread(
                service.record_status_change, engine, settings, change, now
            )
            opened += decision is ClosureDecision.OPEN
        if len(issues) < PAGE_SIZE:
            break
        page += 1
    with transaction(engine) as session:
        queries.set_status(session, WATERMARK, now.isoformat(), now)
    if opened:
        log.info("reconcile.opened surveys=%s", opened)
    return opened
