"""Okdesk's REST API, as this service calls it (reference okdesk.md).

Each call is one request handed straight to the transport (the wire: the process-wide cap on
requests in flight and the kept connections, `bridge.outside`): with two reads a closure,
httpx's client machinery (merging the request with the client's defaults, cookies, the auth and
redirect loops) cost a quarter of a read's CPU, and Okdesk needs none of it (docs/benchmark.md,
the fifth round).

`OkdeskClient` turns failures into `outbound.errors`: timeouts, connection errors, 408, 425,
429 and every 5xx are `TransientError` (retried later from the queue; Okdesk documents no
server errors, so none is taken as final); other 4xx are `RejectedError`. The API token travels
as a query parameter (okdesk.md §1), so no URL ever goes into a message or a log; an optional
`outbound.observe.CallObserver` sees each call under a fixed route name (`issues.show`, never
the URL with its ids).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from bridge.okdesk.contacts import RecentEmails
from bridge.okdesk.data import (
    Ticket,
    TicketPage,
    list_date,
    read_emails,
    read_name,
    read_ticket,
)
from outbound.errors import RejectedError, TransientError
from outbound.observe import CallObserver, observed
from outbound.transient import no_answer_is_transient, retry_after_seconds, transient_status

log = logging.getLogger(__name__)

_URL = re.compile(r"\S*(?:https?://|api_token=)\S*")
# What every request says of itself (httpx's client sent its own name).
HEADERS = {"Accept": "application/json", "User-Agent": "okdesk-bitrix24-rating"}


class TokenRefusedError(RejectedError):
    """Okdesk refused the API token (401 or 403): wrong, revoked, or without the rights."""


class OkdeskClient:
    """The Okdesk REST calls this service makes; a `bridge.okdesk.helpdesk.Helpdesk`."""

    def __init__(
        self,
        wire: httpx.AsyncBaseTransport,
        base_url: str,
        api_token: str,
        *,
        timeout: float,
        observer: CallObserver | None = None,
    ) -> None:
        self._wire = wire
        self._base = base_url.rstrip("/") + "/api/v1/"
        self._token = api_token
        self._timeouts = {"timeout": httpx.Timeout(timeout).as_dict()}
        self._observer = observer
        self._emails = RecentEmails()

    async def _request(
        self,
        what: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        query = urlencode({**(params or {}), "api_token": self._token}, doseq=True)
        request = httpx.Request(
            method,
            f"{self._base}{path}?{query}",
            headers=HEADERS,
            json=json,
            extensions=self._timeouts,
        )
        with no_answer_is_transient(f"Okdesk {what}"):
            response = await self._wire.handle_async_request(request)
            response.request = request
            try:
                await response.aread()
            finally:
                await response.aclose()
        status = response.status_code
        if transient_status(status, every_server_error=True):
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(f"Okdesk {what}: HTTP {status}", retry_after)
        return response

    def _rejected(self, what: str, response: httpx.Response) -> RejectedError:
        # Okdesk might echo the request URL, whose query carries the API token.
        detail = _URL.sub("<url>", response.text.replace(self._token, "***"))
        detail = " ".join(detail.split())[:200]
        return RejectedError(f"Okdesk {what}: HTTP {response.status_code} {detail}".rstrip())

    async def _contact(self, contact_id: int) -> dict[str, Any]:
        """The contact object; {} when there is none (404, `{}` or anything not an object)."""
        with observed(self._observer, "okdesk", "contacts.show"):
            response = await self._request(
                "contact lookup", "GET", "contacts/", params={"id": contact_id}
            )
            if response.status_code == 404:
                return {}
            if not response.is_success:
                raise self._rejected("contact lookup", response)
            contact = _json(response)
        # A lookup by id answers one object; a missing contact may be 404 or `200 {}`, and
        # anything else means "no such contact" too (okdesk.md §4, §12).
        return contact if isinstance(contact, dict) else {}

    async def contact_name(self, contact_id: int) -> str | None:
        """The contact's name as Okdesk shows it, None when it has none or is gone."""
        return read_name(await self._contact(contact_id))

    async def contact_email(self, contact_id: int) -> str | None:
        """The contact's e-mail (or first additional one), None when it has none or is gone;
        read again after a minute at most (`bridge.okdesk.contacts`)."""
        return await self._emails.email(contact_id, lambda: self._read_email(contact_id))

    async def _read_email(self, contact_id: int) -> str | None:
        contact = await self._contact(contact_id)
        fields = ("email", "additional_emails", "cc_email")
        found = [address for field in fields for address in read_emails(contact.get(field))]
        return found[0] if found else None

    async def ticket(self, issue_id: int) -> Ticket | None:
        """The ticket as Okdesk shows it now; None when it is gone (404, or an empty answer)."""
        with observed(self._observer, "okdesk", "issues.show"):
            response = await self._request("ticket read", "GET", f"issues/{issue_id}")
            if response.status_code == 404:
                return None
            if not response.is_success:
                raise self._rejected("ticket read", response)
            issue = _json(response)
        return read_ticket(issue, issue_id) if isinstance(issue, dict) and issue else None

    async def issue_rate(self, issue_id: int) -> str | None:
        """The rating the ticket shows now (`rate.value`), or None when unrated or gone."""
        ticket = await self.ticket(issue_id)
        return ticket.rate if ticket is not None else None

    async def rate_issue(self, issue_id: int, rate: str) -> None:
        """Post the ticket's rating (bad / normal / good)."""
        # The body's shape is not settled (okdesk.md §6, §11): one source sends {"rate": r},
        # two others {"issue": {"rate": r}}. A body with both keys satisfies either reading,
        # and the caller reads the ticket back to confirm the rating took.
        with observed(self._observer, "okdesk", "issues.rates.create"):
            response = await self._request(
                "rating",
                "POST",
                f"issues/{issue_id}/rates",
                json={"rate": rate, "issue": {"rate": rate}},
            )
            if not response.is_success:
                raise self._rejected("rating", response)

    # --- issue 10: comments (okdesk.md §7) ---------------------------------------------------
    async def comment_issue(
        self, issue_id: int, *, content: str, author_id: int, author_type: str, public: bool
    ) -> None:
        """Post a comment (`content` is HTML) on the ticket as `author_id`."""
        comment = {
            "content": content,
            "author_id": author_id,
            "author_type": author_type,
            "public": public,
        }
        # The wrapped body is the documented one (okdesk.md §7).
        with observed(self._observer, "okdesk", "issues.comments.create"):
            response = await self._request(
                "comment", "POST", f"issues/{issue_id}/comments", json={"comment": comment}
            )
            if not response.is_success:
                raise self._rejected("comment", response)

    async def comment_texts(self, issue_id: int) -> list[str]:
        """The contents (HTML) of the ticket's comments, oldest first; [] when it is gone."""
        with observed(self._observer, "okdesk", "issues.comments.list"):
            response = await self._request("comments read", "GET", f"issues/{issue_id}/comments")
            if response.status_code == 404:
                return []
            if not response.is_success:
                raise self._rejected("comments read", response)
            listed = _json(response)
        items = listed if isinstance(listed, list) else []
        return [
            c["content"] for c in items if isinstance(c, dict) and isinstance(c.get("content"), str)
        ]

    # --- end of issue 10 --------------------------------------------------------------------

    async def status_codes(self) -> list[str]:
        """The codes of the account's ticket statuses (`GET /issues/statuses`, okdesk.md §3).

        A cheap authenticated read: `python -m bridge.admin check` proves the token with it.
        401 or 403 raise `TokenRefusedError`.
        """
        response = await self._request("status list", "GET", "issues/statuses")
        if response.status_code in (401, 403):
            raise TokenRefusedError(f"Okdesk status list: HTTP {response.status_code}")
        if not response.is_success:
            raise self._rejected("status list", response)
        items = _json(response)
        if not isinstance(items, list):
            raise RejectedError(f"Okdesk status list: answered a {type(items).__name__}")
        return [str(item["code"]) for item in items if isinstance(item, dict) and "code" in item]

    async def completed_tickets(
        self, statuses: list[str], since: datetime, page: int, page_size: int = 50
    ) -> TicketPage:
        """One page of the tickets in `statuses` that completed since `since`, and older ones.

        Okdesk filters by a date in the account's zone (okdesk.md §11.5), so we ask from a day
        and a half earlier and the caller keeps what is new. An item that is no ticket is
        logged with its reason and left out (`listed` still counts it, for paging).
        """
        params: dict[str, Any] = {
            "status_codes[]": statuses,
            "completed_since": list_date(since),
            "page[size]": page_size,
            "page[number]": page,
        }
        with observed(self._observer, "okdesk", "issues.list"):
            response = await self._request("ticket list", "GET", "issues/list", params=params)
            if not response.is_success:
                raise self._rejected("ticket list", response)
            items = _json(response)
            if not isinstance(items, list):
                # Not the documented array: nothing says which tickets closed; try again later.
                raise TransientError(f"Okdesk ticket list: answered a {type(items).__name__}")
        return TicketPage(_usable_tickets(items, page), len(items))


def _usable_tickets(items: list[Any], page: int) -> list[Ticket]:
    """The listed items that are tickets; the others are logged with their reason."""
    tickets = []
    for position, item in enumerate(items, start=1):
        ticket = read_ticket(item)
        if ticket is None:
            reason = "no usable id" if isinstance(item, dict) else "not an object"
            log.warning(
                "okdesk.list_item_skipped page=%s item=%s reason=%s", page, position, reason
            )
        else:
            tickets.append(ticket)
    return tickets


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        # A proxy's page or a truncated answer: nothing says the request itself was wrong.
        raise TransientError(f"Okdesk answered HTTP {response.status_code} without JSON") from None
