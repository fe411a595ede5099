"""Okdesk's data as we read it: the webhook payload, tickets, contacts' e-mails and dates.

Vendor data is read the same way on every path: `clean_text` makes storable text, `optional_id`
reads an id, `read_emails` an e-mail field, `read_time` a timestamp and `read_ticket` an issue.
None of them raises: what is unusable becomes None, so odd data fails one item at most.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bridge.okdesk.context import TicketContext as TicketContext  # re-exported

_EMAIL_SEPARATORS = re.compile(r"[\s,;<>()\"']+")

# Bounds of what we keep from Okdesk (the survey table's engineer column holds 300).
TITLE_LIMIT = 1000
NAME_LIMIT = 300
CODE_LIMIT = 100
EMAIL_FIELD_LIMIT = 10_000
EMAIL_LIMIT = 254
_MAX_ID = 2**63  # ids are stored as BIGINT

# List filters take a date, `DD-MM-YYYY`; a time after it may be ignored (okdesk.md §11.5).
LIST_DATE = "%d-%m-%Y"
# Okdesk reads those dates in the account's time zone, which we do not know: ask from 14 hours
# earlier (the widest UTC offset) and a day more, and keep what completed since ourselves.
ZONE_MARGIN = timedelta(hours=14)
LIST_OVERLAP = timedelta(days=1)


def _int_id(value: object) -> object:
    # Live payloads carry integer ids, the documentation's sample strings (okdesk.md §2).
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip())
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


# Ids are stored as BIGINT: anything outside 1..2**63-1 is not an Okdesk id.
Id = Annotated[int, BeforeValidator(_int_id), Field(gt=0, lt=_MAX_ID)]


def clean_text(value: object, limit: int) -> str | None:
    """Vendor text fit for storage: no NUL (PostgreSQL refuses it), no lone surrogates, at
    most `limit` characters. A number becomes its digits; anything else not text is None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = value if isinstance(value, str) else str(value)
    cleaned = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return cleaned[:limit]


def optional_id(value: object) -> int | None:
    """An Okdesk id given as a number or a numeric string; None when absent or unusable.

    Ids are positive and fit a BIGINT; 0 is how some payloads say "none".
    """
    if isinstance(value, str):
        text = value.strip()
        usable = text.isascii() and text.isdigit() and len(text) <= len(str(_MAX_ID))
        value = int(text) if usable else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value < _MAX_ID else None


def read_emails(value: object) -> list[str]:
    """The addresses in an e-mail field: one address, several in one string, or a list.

    Entries that are not text, and words that are not an address, are left out.
    """
    entries = value if isinstance(value, list) else [value]
    texts = [clean_text(entry, EMAIL_FIELD_LIMIT) for entry in entries if isinstance(entry, str)]
    words = [word for text in texts if text for word in _EMAIL_SEPARATORS.split(text)]
    return [word for word in words if _is_address(word)]


def _is_address(word: str) -> bool:
    local, _, domain = word.partition("@")
    return bool(local and domain) and "@" not in domain and len(word) <= EMAIL_LIMIT


def read_time(value: object) -> datetime | None:
    """An Okdesk timestamp (`2024-08-24T17:26:19.298+07:00`); None unless it names its zone."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def list_date(since: datetime) -> str:
    """The `completed_since` date that lists every ticket completed at or after `since`."""
    return (since.astimezone(UTC) - ZONE_MARGIN - LIST_OVERLAP).strftime(LIST_DATE)


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


class _Named(_Model):
    id: Id | None = None
    name: str | None = None


class _Code(_Model):
    code: str | None = None


class _Client(_Model):
    contact: _Person | None = None
    company: _Named | None = None


class _Assignee(_Model):
    employee: _Person | None = None
    group: _Named | None = None


class _Issue(_Model):
    id: Id
    title: str | None = None
    status: _Status | None = None
    client: _Client | None = None
    assignee: _Assignee | None = None
    type: _Code | None = None
    priority: _Code | None = None
    # Read leniently (`read_time`): an odd value must not refuse the webhook.
    completed_at: Any = None


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

    @property
    def closed_at(self) -> datetime | None:
        """When the ticket was completed, as the webhook says (it names this closure)."""
        return read_time(self.issue.completed_at)

    @property
    def context(self) -> TicketContext:
        """The ticket's group, company, type and priority, fit for storage."""
        issue = self.issue
        group = issue.assignee.group if issue.assignee else None
        company = issue.client.company if issue.client else None
        return TicketContext(
            group=clean_text(group.name, 300) if group else None,
            company_id=company.id if company else None,
            company=clean_text(company.name, 300) if company else None,
            type_code=clean_text(issue.type.code, 64) if issue.type else None,
            priority_code=clean_text(issue.priority.code, 64) if issue.priority else None,
            engineer_id=issue.assignee.employee.id
            if issue.assignee and issue.assignee.employee
            else None,
        )


@dataclass(frozen=True)
class Ticket:
    """A ticket as Okdesk's REST API shows it (okdesk.md §5), its text fit for storage."""

    id: int
    status: str | None
    contact_id: int | None
    title: str | None
    engineer: str | None
    rate: str | None
    completed_at: datetime | None
    # Issue 10: what the skip rules read when reconciliation finds a closure (REST names the
    # company and the engineer by id only: `company_id`, `assignee{id,name}`, okdesk.md §5).
    context: TicketContext = field(default_factory=TicketContext, compare=False)


def read_ticket(item: object, issue_id: int | None = None) -> Ticket | None:
    """Read an issue object; None when it is no object or has no usable id (nor was one asked).

    A field of an odd shape (a string where an object belongs, say) reads as unknown.
    """
    if not isinstance(item, dict):
        return None
    ticket_id = issue_id or optional_id(item.get("id"))
    if ticket_id is None:
        return None
    return Ticket(
        id=ticket_id,
        status=_code(item.get("status"), "code"),
        contact_id=_contact_id(item),
        title=clean_text(item.get("title"), TITLE_LIMIT),
        engineer=read_name(item.get("assignee")),
        # REST answers an object {id, value}; webhooks a plain string (okdesk.md §5, §6).
        rate=_code(item.get("rate"), "value"),
        completed_at=read_time(item.get("completed_at")),
        context=_rest_context(item),
    )


def _rest_context(item: dict[str, Any]) -> TicketContext:
    assignee = item.get("assignee")
    return TicketContext(
        company_id=optional_id(item.get("company_id")),
        type_code=clean_text(_code(item.get("type"), "code"), 64),
        priority_code=clean_text(_code(item.get("priority"), "code"), 64),
        engineer_id=optional_id(assignee.get("id")) if isinstance(assignee, dict) else None,
    )


def _code(value: object, key: str) -> str | None:
    """A code given as an object (`{"code": "closed"}`, `{"value": "good"}`) or bare."""
    if isinstance(value, dict):
        value = value.get(key)
    text = clean_text(value, CODE_LIMIT) if isinstance(value, str) else None
    return (text.strip() or None) if text else None


def _contact_id(item: dict[str, Any]) -> int | None:
    """The requester: REST's top-level `contact`, or the webhook's `client.contact` (§5)."""
    client = item.get("client")
    nested = client.get("contact") if isinstance(client, dict) else None
    for contact in (item.get("contact"), nested):
        found = optional_id(contact.get("id")) if isinstance(contact, dict) else None
        if found is not None:
            return found
    return None


def read_name(person: object) -> str | None:
    """A person's name: REST's `{id, name}`, a contact's or the webhook's `{first_name...}`
    (an assignee's `{employee: {...}}` too)."""
    if isinstance(person, dict) and isinstance(person.get("employee"), dict):
        person = person["employee"]
    if not isinstance(person, dict):
        return None
    parts = (person.get(key) for key in ("first_name", "patronymic", "last_name"))
    joined = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
    name = clean_text(joined or person.get("name"), NAME_LIMIT)
    return (name.strip() or None) if name else None


@dataclass(frozen=True)
class TicketPage:
    """One page of the ticket list: the usable tickets, and how many items Okdesk listed."""

    tickets: list[Ticket]
    listed: int
