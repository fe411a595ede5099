"""Okdesk: the webhook payload we receive and the REST calls we make (reference okdesk.md).

`OkdeskClient` turns failures into `bot.errors`: timeouts, connection errors, 429 and 5xx are
`TransientError` (retried later from the queue); other 4xx are `RejectedError`. The API token
travels as a query parameter (okdesk.md §1), so no URL ever goes into a message or a log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.errors import RejectedError, TransientError, retry_after_seconds

_URL = re.compile(r"\S*(?:https?://|api_token=)\S*")


def _int_id(value: object) -> object:
    # Live payloads carry integer ids, the documentation's sample strings (okdesk.md §2).
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


# Ids are stored as BIGINT: anything outside 1..2**63-1 is not an Okdesk id.
Id = Annotated[int, BeforeValidator(_int_id), Field(gt=0, lt=2**63)]


def clean_text(value: str | None, limit: int) -> str | None:
    """Text fit for storage: no NUL (PostgreSQL refuses it), no lone surrogates, bounded."""
    if value is None:
        return None
    cleaned = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return cleaned[:limit]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Status(_Model):
    code: str


class _Person(_Model):
    id: Id | None = None
    first_name: str | None = None
    last_name: str | None = None
    patronymic: str | None = None
    name: str | None = None

    @property
    def full_name(self) -> str | None:
        parts = [self.first_name, self.patronymic, self.last_name]
        joined = " ".join(p.strip() for p in parts if p and p.strip())
        return joined or self.name


class _Client(_Model):
    contact: _Person | None = None


class _Assignee(_Model):
    employee: _Person | None = None


class _Issue(_Model):
    id: Id
    title: str | None = None
    status: _Status | None = None
    client: _Client | None = None
    assignee: _Assignee | None = None


class _Event(_Model):
    event_type: str
    new_status: _Status | None = None


class OkdeskWebhook(_Model):
    """An issue webhook: `{"event": {...}, "issue": {...}}` (okdesk.md §2)."""

    event: _Event
    issue: _Issue

    @property
    def new_status(self) -> str | None:
        """The status the ticket moved to (the event's, which live payloads keep in step)."""
        status = self.event.new_status or self.issue.status
        return status.code if status else None

    @property
    def contact_id(self) -> int | None:
        """The requester; it is at `issue.client.contact` and is often null (okdesk.md §2)."""
        client = self.issue.client
        return client.contact.id if client and client.contact else None

    @property
    def engineer(self) -> str | None:
        """Who worked on the ticket, when known."""
        assignee = self.issue.assignee
        return assignee.employee.full_name if assignee and assignee.employee else None


@dataclass(frozen=True)
class ClosedIssue:
    """A ticket found closed through the API (for reconciliation)."""

    id: int
    title: str | None
    contact_id: int | None
    engineer: str | None
    rated: bool


class OkdeskClient:
    """The Okdesk REST calls this service makes."""

    def __init__(self, http: httpx.AsyncClient, base_url: str, api_token: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/") + "/api/v1/"
        self._token = api_token

    async def _request(
        self,
        what: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        query = {**(params or {}), "api_token": self._token}
        try:
            response = await self._http.request(method, self._base + path, params=query, json=json)
        except httpx.TimeoutException as exc:
            raise TransientError(f"Okdesk {what}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientError(f"Okdesk {what}: unreachable ({type(exc).__name__})") from None
        status = response.status_code
        if status == 429 or status >= 500 or status == 408:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(f"Okdesk {what}: HTTP {status}", retry_after)
        return response

    def _rejected(self, what: str, response: httpx.Response) -> RejectedError:
        # Okdesk might echo the request URL, whose query carries the API token.
        detail = _URL.sub("<url>", response.text.replace(self._token, "***"))
        detail = " ".join(detail.split())[:200]
        return RejectedError(f"Okdesk {what}: HTTP {response.status_code} {detail}".rstrip())

    async def contact_email(self, contact_id: int) -> str | None:
        """The contact's e-mail (or first additional one), None when it has none or is gone."""
        response = await self._request(
            "contact lookup", "GET", "contacts/", params={"id": contact_id}
        )
        if response.status_code == 404:
            return None
        if not response.is_success:
            raise self._rejected("contact lookup", response)
        contact = _json(response)
        # A lookup by id answers one object; anything else means "no such contact" (okdesk.md §4).
        if not isinstance(contact, dict):
            return None
        candidates = [contact.get("email"), *(contact.get("additional_emails") or [])]
        candidates.append(contact.get("cc_email"))
        for email in candidates:
            if isinstance(email, str) and "@" in email:
                return email.strip()
        return None

    async def issue_rate(self, issue_id: int) -> str | None:
        """The rating the ticket shows now (`rate.value`), or None when unrated."""
        response = await self._request("ticket read", "GET", f"issues/{issue_id}")
        if not response.is_success:
            raise self._rejected("ticket read", response)
        issue = _json(response)
        rate = issue.get("rate") if isinstance(issue, dict) else None
        # REST answers an object {id, value}; webhooks a plain string (okdesk.md §5, §6).
        if isinstance(rate, dict):
            rate = rate.get("value")
        return rate if isinstance(rate, str) and rate else None

    async def rate_issue(self, issue_id: int, rate: str) -> None:
        """Post the ticket's rating (bad / normal / good)."""
        # The body's shape is not settled (okdesk.md §6, §11): one source sends {"rate": r},
        # two others {"issue": {"rate": r}}. A body with both keys satisfies either reading,
        # and the caller reads the ticket back to confirm the rating took.
        response = await self._request(
            "rating",
            "POST",
            f"issues/{issue_id}/rates",
            json={"rate": rate, "issue": {"rate": rate}},
        )
        if not response.is_success:
            raise self._rejected("rating", response)

    async def closed_issues(
        self, statuses: list[str], completed_since: str, page: int, page_size: int = 50
    ) -> list[ClosedIssue]:
        """One page of tickets in `statuses` completed since `DD-MM-YYYY HH:MM`."""
        params: dict[str, Any] = {
            "status_codes[]": statuses,
            "completed_since": completed_since,
            "page[size]": page_size,
            "page[number]": page,
        }
        response = await self._request("ticket list", "GET", "issues/list", params=params)
        if not response.is_success:
            raise self._rejected("ticket list", response)
        items = _json(response)
        return [
            _closed(item)
            for item in items or []
            if isinstance(item, dict) and _optional_id(item.get("id")) is not None
        ]


def _closed(item: dict[str, Any]) -> ClosedIssue:
    contact = item.get("contact") or (item.get("client") or {}).get("contact") or {}
    assignee = item.get("assignee") or {}
    return ClosedIssue(
        id=int(str(item["id"]).strip()),
        title=item.get("title"),
        contact_id=_optional_id(contact.get("id") if isinstance(contact, dict) else None),
        engineer=assignee.get("name") if isinstance(assignee, dict) else None,
        rated=bool(item.get("rate")),
    )


def _optional_id(value: object) -> int | None:
    text = str(value).strip() if isinstance(value, int | str) else ""
    # Ids are positive; 0 is how some payloads say "none".
    return int(text) or None if text.isdecimal() else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        # A proxy's page or a truncated answer: nothing says the request itself was wrong.
        raise TransientError(f"Okdesk answered HTTP {response.status_code} without JSON") from None
