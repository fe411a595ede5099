"""In-memory fake of the Okdesk REST API: contacts, issues, rates, comments and the issue list."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.fakes._common import bad_gateway, control_routes, int_keys, str_keys, unlucky
from sandbox.fakes.okdesk_webhooks import webhook_routes

FailEntry = int | tuple[int, dict[str, str]]
Handler = Callable[[Request], Awaitable[Response]]

RATE_VALUES = ("bad", "normal", "good")
# GET /api/v1/issues/statuses answers `[{id, code, name, color}]` (okdesk.md §8).
STATUSES = [
    {"id": 1, "code": "opened", "name": "Открыта", "color": "#5cb85c"},
    {"id": 2, "code": "in_progress", "name": "В работе", "color": "#f0ad4e"},
    {"id": 3, "code": "completed", "name": "Решена", "color": "#5bc0de"},
    {"id": 4, "code": "closed", "name": "Закрыта", "color": "#777777"},
]
MAX_PAGE_SIZE = 50
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class _ValidationError(Exception):
    """A request parameter failed validation (answered as 422)."""

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(errors)
        self.errors = errors


def _errors(body: Any, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    """Answer an Okdesk-style `{"errors": ...}` body."""
    return JSONResponse({"errors": body}, status, headers=headers)


def _not_found() -> JSONResponse:
    """Answer Okdesk's 404."""
    return _errors("Не найдено", 404)


async def _json_body(request: Request) -> dict[str, Any]:
    """Parse the request body as a JSON object ({} when empty or not an object)."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _rate_value(body: dict[str, Any]) -> str:
    """Pick the rate from a flat, wrapped or doubled body, or raise _ValidationError."""
    found = [body["rate"]] if "rate" in body else []
    wrapped = body.get("issue")
    if isinstance(wrapped, dict) and "rate" in wrapped:
        found.append(wrapped["rate"])
    if not found:
        raise _ValidationError({"rate": ["отсутствует"]})
    if any(value not in RATE_VALUES for value in found) or len(set(found)) > 1:
        raise _ValidationError({"rate": ["имеет непредусмотренное значение"]})
    return str(found[0])


def _page(query: QueryParams) -> tuple[int, int]:
    """Read `page[size]` and `page[number]`, or raise _ValidationError."""
    size_raw = query.get("page[size]", str(MAX_PAGE_SIZE))
    number_raw = query.get("page[number]", "1")
    if not size_raw.isdigit() or not 1 <= int(size_raw) <= MAX_PAGE_SIZE:
        too_big = f"должно быть меньше или равно {MAX_PAGE_SIZE}"
        raise _ValidationError({"page": {"size": [too_big]}})
    if not number_raw.isdigit() or int(number_raw) < 1:
        raise _ValidationError({"page": {"number": ["должно быть больше 0"]}})
    return int(size_raw), int(number_raw)


def _since(query: QueryParams) -> date | None:
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
        raise _ValidationError({"completed_since": ["Неверный формат даты"]}) from None


def _completed_on(issue: dict[str, Any]) -> date | None:
    """The day an issue completed, in the account's time zone (the offset it is written in)."""
    completed = issue.get("completed_at")
    try:
        return datetime.fromisoformat(completed).date() if isinstance(completed, str) else None
    except ValueError:
        return None


def _matches(issue: dict[str, Any], statuses: set[str], since: date | None) -> bool:
    """Tell whether an issue passes the list filters."""
    status = issue.get("status")
    code = status.get("code") if isinstance(status, dict) else None
    if statuses and code not in statuses:
        return False
    if since is None:
        return True
    completed = _completed_on(issue)
    return completed is not None and completed >= since


class _OkdeskJSON(JSONResponse):
    """JSON as Okdesk sends it; text UTF-8 cannot carry (a lone surrogate) goes escaped."""

    def render(self, content: Any) -> bytes:
        """Encode as UTF-8, escaping everything when the text is not valid Unicode."""
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, separators=(",", ":")).encode("ascii")


class FakeOkdesk:
    """Okdesk REST fake speaking the real wire format, with inspectable state."""

    def __init__(self, api_token: str = "okdesk-test-token", latency: float = 0.0) -> None:
        """Create an empty fake; seed `contacts` and `issues` before use."""
        self.api_token = api_token
        self.latency = latency
        self.error_rate = 0.0
        # Where the status webhook posts (set through /_fake/webhook; empty: no webhook).
        self.webhook_url = ""
        self.contacts: dict[int, dict[str, Any]] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.rate_posts: list[tuple[int, dict[str, Any]]] = []
        # Issue id → its comments, oldest first, in the shape GET .../comments lists them.
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self._comment_ids = itertools.count(1)
        self.requests: list[tuple[str, str]] = []
        self.fail_next: dict[str, list[FailEntry]] = {}
        self._rate_ids = itertools.count(1)
        self.app = Starlette(routes=self._routes())

    def fail(self, route: str, *statuses: FailEntry) -> None:
        """Make the next requests on `route` (contact/issue/rate/list/comment) fail."""
        self.fail_next.setdefault(route, []).extend(statuses)

    def _routes(self) -> list[BaseRoute]:
        """Build the API routes, the control API and a JSON 404 catch-all."""
        api = [
            ("/api/v1/contacts/", "contact", self._contact, "GET"),
            ("/api/v1/contacts", "contact", self._contact, "GET"),
            ("/api/v1/issues/list", "list", self._list, "GET"),
            ("/api/v1/issues/statuses", "statuses", self._statuses, "GET"),
            ("/api/v1/issues/{issue_id:int}", "issue", self._issue, "GET"),
            ("/api/v1/issues/{issue_id:int}/rates", "rate", self._rate, "POST"),
            ("/api/v1/issues/{issue_id:int}/comments", "comment", self._comment, "POST"),
            ("/api/v1/issues/{issue_id:int}/comments", "comments", self._comments, "GET"),
        ]
        routes: list[BaseRoute] = [*control_routes(self), *webhook_routes(self)]
        routes += [Route(path, self._wrap(name, fn), methods=[m]) for path, name, fn, m in api]
        missing = self._wrap("other", self._missing)
        routes.append(Route("/{path:path}", missing, methods=_ALL_METHODS))
        return routes

    def _wrap(self, route: str, handler: Handler) -> Handler:
        """Add request logging, latency, token check and queued failures to a handler."""

        async def endpoint(request: Request) -> Response:
            """Serve one API request."""
            self.requests.append((request.method, request.url.path))
            if self.latency > 0:
                await asyncio.sleep(self.latency)
            if unlucky(self.error_rate):
                return bad_gateway()
            if request.query_params.get("api_token") != self.api_token:
                return _errors("Вы не авторизованы", 401)
            queued = self.fail_next.get(route)
            if queued:
                return self._failure(queued.pop(0))
            return await handler(request)

        return endpoint

    @staticmethod
    def _failure(entry: FailEntry) -> JSONResponse:
        """Answer a queued fake failure."""
        status, headers = entry if isinstance(entry, tuple) else (entry, {})
        return _errors("fake failure", status, headers)

    async def _missing(self, request: Request) -> Response:
        """Answer 404 for any unknown path."""
        return _not_found()

    async def _contact(self, request: Request) -> Response:
        """GET /api/v1/contacts/?id=N: one contact object."""
        raw = request.query_params.get("id", "")
        contact = self.contacts.get(int(raw)) if raw.isdigit() else None
        return _not_found() if contact is None else JSONResponse(contact)

    async def _issue(self, request: Request) -> Response:
        """GET /api/v1/issues/{id}: one issue object, as seeded in the REST shape (§5)."""
        issue = self.issues.get(request.path_params["issue_id"])
        return _not_found() if issue is None else _OkdeskJSON(issue)

    async def _rate(self, request: Request) -> Response:
        """POST /api/v1/issues/{id}/rates: set the issue's rate."""
        issue_id: int = request.path_params["issue_id"]
        body = await _json_body(request)
        issue = self.issues.get(issue_id)
        if issue is None:
            return _not_found()
        try:
            value = _rate_value(body)
        except _ValidationError as invalid:
            return _errors(invalid.errors, 422)
        issue["rate"] = {"id": next(self._rate_ids), "value": value}
        self.rate_posts.append((issue_id, body))
        return JSONResponse({"id": issue_id, "rate": issue["rate"]})

    # --- comments (okdesk.md §7) -------------------------------------------------------------

    async def _comment(self, request: Request) -> Response:
        """POST /api/v1/issues/{id}/comments: `{"comment": {...}}` or the same fields flat.

        `content` (HTML) and `author_id` are required (a missing one answers 422
        `{"errors": {"author_id": ["отсутствует"]}}`); `author_type` is `employee` (the
        default) or `contact`; `public` is a boolean.
        """
        issue_id: int = request.path_params["issue_id"]
        if issue_id not in self.issues:
            return _not_found()
        body = await _json_body(request)
        wrapped = body.get("comment")
        fields = wrapped if isinstance(wrapped, dict) else body
        try:
            comment = self._new_comment(fields)
        except _ValidationError as invalid:
            return _errors(invalid.errors, 422)
        self.comments.setdefault(issue_id, []).append(comment)
        return JSONResponse(comment)

    def _new_comment(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A comment from the request's fields, or raise _ValidationError."""
        errors: dict[str, Any] = {}
        content, author_id = fields.get("content"), fields.get("author_id")
        author_type = fields.get("author_type", "employee")
        public = fields.get("public", False)
        if not isinstance(content, str) or not content.strip():
            errors["content"] = ["отсутствует"]
        if author_id is None or author_id == "":
            errors["author_id"] = ["отсутствует"]
        elif not str(author_id).isdigit():
            errors["author_id"] = ["имеет неверное значение"]
        if author_type not in ("employee", "contact"):
            errors["author_type"] = ["имеет непредусмотренное значение"]
        if not isinstance(public, bool):
            errors["public"] = ["имеет неверное значение"]
        if errors:
            raise _ValidationError(errors)
        author = {"id": int(str(author_id)), "name": None, "type": author_type}
        if author_type == "contact":
            contact = self.contacts.get(author["id"], {})
            author["name"] = contact.get("name") or contact.get("first_name")
        return {
            "id": next(self._comment_ids),
            "content": content,
            "public": public,
            "attachments": [],
            "author": author,
            "published_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }

    async def _comments(self, request: Request) -> Response:
        """GET /api/v1/issues/{id}/comments: the ticket's comments, oldest first."""
        issue_id: int = request.path_params["issue_id"]
        if issue_id not in self.issues:
            return _not_found()
        return _OkdeskJSON(self.comments.get(issue_id, []))

    # --- end of comments ----------------------------------------------------------------------

    async def _statuses(self, request: Request) -> Response:
        """GET /api/v1/issues/statuses: the account's ticket statuses."""
        return JSONResponse(STATUSES)

    async def _list(self, request: Request) -> Response:
        """GET /api/v1/issues/list: a JSON array of issue objects, filtered, id-ordered, paged.

        `page[size]` above 50 is refused with 422 and an `errors` body (okdesk.md §11.5).
        """
        query = request.query_params
        try:
            size, number = _page(query)
            since = _since(query)
        except _ValidationError as invalid:
            return _errors(invalid.errors, 422)
        statuses = set(query.getlist("status_codes[]") + query.getlist("status_codes"))
        found = [self.issues[key] for key in sorted(self.issues)]
        found = [issue for issue in found if _matches(issue, statuses, since)]
        return _OkdeskJSON(found[(number - 1) * size : number * size])

    def control_state(self) -> dict[str, Any]:
        """Return the public state as JSON-ready data."""
        return {
            "contacts": str_keys(self.contacts),
            "issues": str_keys(self.issues),
            "rate_posts": [[issue_id, body] for issue_id, body in self.rate_posts],
            "comments": str_keys(self.comments),
            "requests": len(self.requests),
        }

    def control_seed(self, data: dict[str, Any]) -> None:
        """Merge `{"contacts": {...}, "issues": {...}}` (str-keyed or lists) into the state."""
        self.contacts.update(int_keys(data.get("contacts", {})))
        self.issues.update(int_keys(data.get("issues", {})))

    def control_fail(self, name: str, entries: list[Any]) -> None:
        """Queue failures given as JSON: `429` or `[429, {"Retry-After": "3"}]`."""
        self.fail(name, *(tuple(e) if isinstance(e, list) else int(e) for e in entries))
