"""What a report groups ratings by, and what the survey rules read (issue 10), as Okdesk
names it for a ticket: `bridge.okdesk.data` reads it from webhooks and REST tickets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TicketContext:
    """What a report groups ratings by: the engineer's group, the client company, the ticket's
    type and priority (as the closure webhook names them; any may be unknown)."""

    group: str | None = None
    company_id: int | None = None
    company: str | None = None
    type_code: str | None = None
    priority_code: str | None = None
    # The engineer's Okdesk employee id (issue 10: who writes the automatic comment).
    engineer_id: int | None = None
