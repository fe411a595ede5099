"""Okdesk's wire format as the fake speaks it: `{"errors": ...}` bodies, the rate body, the
list filters and paging (okdesk.md §1, §5, §6, §11)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse

RATE_VALUES = ("bad", "normal", "good")
# GET /api/v1/issues/statuses answers `[{id, code, name, color}]` (okdesk.md §8).
STATUSES = [
    {"id": 1, "code": "opened", "name": "Открыта", "color": "#5cb85c"},
    {"id": 2, "code": "in_progress", "name": "В работе", "color": "#f0ad4e"},
    {"id": 3, "code": "completed", "name": "Решена", "color": "#5bc0de"},
    {"id": 4, "code": "closed", "name": "Закрыта", "color": "#777777"},
]
MAX_PAGE_SIZE = 50


class ValidationError(Exception):
    """A request parameter failed validation (answered as 422)."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = errors


def okdesk_errors(body: Any, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Answer an Okdesk-style `{"errors": ...}` body."""
    return JSONResponse({"errors": body}, status, headers=headers)


def not_found() -> JSONResponse:
    """Answer Okdesk's 404."""
    return okdesk_errors("Не найдено", 404)


async def json_body(request: Request) -> dict[str, Any]:
    """Parse the request body as a JSON object ({} when empty or not an object)."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def rate_value(body: dict[str, Any]) -> str:
    """Pick the rate from a flat, wrapped or doubled body, or raise ValidationError."""
    found = [body["rate"]] if "rate" in body else []
    wrapped = body.get("issue")
    if isinstance(wrapped, dict) and "rate" in wrapped:
        found.append(wrapped["rate"])
    if not found:
        raise ValidationError({"rate": ["отсутствует"]})
    if any(value not in RATE_VALUES for value in found) or len(set(found)) > 1:
        raise ValidationError({"rate": ["имеет непредусмотренное значение"]})
    return str(found[0])


def page_of(query: QueryParams) -> tuple[int, int]:
    """Read `page[size]` and `page[number]`, or raise ValidationError."""
    size_raw = query.get("page[size]", str(MAX_PAGE_SIZE))
    number_raw = query.get("page[number]", "1")
    if not size_raw.isdigit() or not 1 <= int(size_raw) <= MAX_PAGE_SIZE:
        too_big = f"должно быть меньше или равно {MAX_PAGE_SIZE}"
        raise ValidationError({"page": {"size": [too_big]}})
    if not number_raw.isdigit() or int(number_raw) < 1:
        raise ValidationError({"page": {"number": ["должно быть больше 0"]}})
    return int(size_raw), int(number_raw)


def completed_since(query: QueryParams) -> date | None:
    """Read `completed_since`: a date, `DD-MM-YYYY`; a time after it is accepted and ignored.

    The documentation gives this filter as a date (okdesk.md §11.5), so the fake keeps only the
    date, as Okdesk may, and lists everything completed on that day or later.
    """
    raw = query.get("completed_since")
    if not raw:
        return None
    day = raw.strip().split(" ", 1)[0]
    try:
        return datetime.strptime(day, "%d-%m-%Y").replace(tzinfo=UTC).date()
    except ValueError:
        raise ValidationError({"completed_since": ["Неверный формат даты"]}) from None


def _completed_on(issue: dict[str, Any]) -> date | None:
    """The day an issue completed, in the account's time zone (the offset it is written in)."""
    completed = issue.get("completed_at")
    try:
        return datetime.fromisoformat(completed).date() if isinstance(completed, str) else None
    except ValueError:
        return None


def matches(issue: dict[str, Any], statuses: set[str], since: date | None) -> bool:
    """Tell whether an issue passes the list filters."""
    status = issue.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if statuses and code not in statuses:
        return False
    if since is None:
        return True
    completed = _completed_on(issue)
    return completed is not None and completed >= since


class OkdeskJSON(JSONResponse):
    """JSON as Okdesk sends it; text UTF-8 cannot carry (a lone surrogate) goes escaped."""

    def render(self, content: Any) -> bytes:
        """Encode as UTF-8, escaping everything when the text is not valid Unicode."""
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, separators=(",", ":")).encode("ascii")
