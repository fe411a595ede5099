"""The helpdesk side of the service, behind one small interface.

`Helpdesk` is all the rating workflow and reconciliation need from Okdesk; `OkdeskClient`
implements it over Okdesk's REST API, and a sandbox or a test can put a fake in its place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bridge.okdesk.data import Ticket, TicketPage


class Helpdesk(Protocol):
    """Reads tickets and contacts, rates tickets and comments on them."""

    async def ticket(self, issue_id: int) -> Ticket | None:
        """The ticket as the helpdesk shows it now; None when it is gone."""
        ...

    async def contact_email(self, contact_id: int) -> str | None:
        """The contact's e-mail, None when it has none or is gone."""
        ...

    async def contact_name(self, contact_id: int) -> str | None:
        """The contact's name, None when it has none or is gone."""
        ...

    async def issue_rate(self, issue_id: int) -> str | None:
        """The rating the ticket shows now, or None when unrated or gone."""
        ...

    async def rate_issue(self, issue_id: int, rate: str) -> None:
        """Set the ticket's rating (bad / normal / good)."""
        ...

    # --- issue 10 ---
    async def comment_issue(
        self, issue_id: int, *, content: str, author_id: int, author_type: str, public: bool
    ) -> None:
        """Post a comment (HTML) on the ticket as an employee or a contact."""
        ...

    async def comment_texts(self, issue_id: int) -> list[str]:
        """The contents (HTML) of the ticket's comments, oldest first."""
        ...

    async def completed_tickets(
        self, statuses: list[str], since: datetime, page: int, page_size: int = 50
    ) -> TicketPage:
        """One page of the tickets in `statuses` completed since `since` (and some older)."""
        ...
