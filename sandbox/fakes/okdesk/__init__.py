"""In-memory fake of the Okdesk REST API: contacts, issues, rates, comments and the issue list.

`wire` holds Okdesk's formats (errors, the rate body, list filters), `comments` the tickets'
comments; the status webhook it posts is `sandbox.fakes.okdesk_webhooks`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.fakes._common import bad_gateway, control_routes, int_keys, str_keys, unlucky
from sandbox.fakes.okdesk.comments import Comments, RefusedError
from sandbox.fakes.okdesk.readings import Readings
from sandbox.fakes.okdesk.wire import (
    STATUSES,
    OkdeskJSON,
    ValidationError,
    completed_since,
    json_body,
    matches,
    not_found,
    okdesk_errors,
    page_of,
    rate_value,
)
from sandbox.fakes.okdesk_webhooks import webhook_routes

# A queued failure: a status (with headers), or "lost": the next request that succeeds is done,
# then answered 504 (its answer lost on the way back).
FailEntry = int | tuple[int, dict[str, str]] | str
LOST = "lost"
Handler = Callable[[Request], Awaitable[Response]]
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class FakeOkdesk:
    """Okdesk REST fake speaking the real wire format, with inspectable state."""

    def __init__(self, api_token: str = "okdesk-test-token", latency: float = 0.0) -> None:
        """Create an empty fake; seed `contacts` and `issues` before use."""
        self.api_token = api_token
        self.latency = latency
        self.error_rate = 0.0
        # Where the status webhook posts (set through /_fake/webhook; empty: no webhook).
        self.webhook_url = ""
        self.readings = Readings()
        self.contacts: dict[int, dict[str, Any]] = {}
        # Company id → its name, as the webhook's `issue.client.company` names it.
        self.companies: dict[int, str] = {}
        self.issues: dict[int, dict[str, Any]] = {}
        self.rate_posts: list[tuple[int, dict[str, Any]]] = []
        # Issue id → its comments, oldest first, in the shape GET .../comments lists them.
        self._stored = Comments(self.contacts, self.readings)
        self.comments = self._stored.by_issue
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
                return okdesk_errors("Вы не авторизованы", 401)
            queued = self.fail_next.setdefault(route, [])
            entry = queued.pop(0) if queued else None
            if entry is None:
                return await handler(request)
            if entry == LOST:
                answer = await handler(request)
                if answer.status_code >= 300:
                    queued.insert(0, entry)  # nothing was done: the next success is lost
                    return answer
                return okdesk_errors("Gateway Timeout", 504)
            return self._failure(entry)

        return endpoint

    @staticmethod
    def _failure(entry: int | tuple[int, dict[str, str]] | str) -> JSONResponse:
        """Answer a queued fake failure."""
        status, headers = entry if isinstance(entry, tuple) else (int(entry), {})
        return okdesk_errors("fake failure", status, headers)

    async def _missing(self, request: Request) -> Response:
        """Answer 404 for any unknown path."""
        return not_found()

    async def _contact(self, request: Request) -> Response:
        """GET /api/v1/contacts/?id=N: one contact object."""
        raw = request.query_params.get("id", "")
        contact = self.contacts.get(int(raw)) if raw.isdigit() else None
        if contact is None:
            return not_found() if self.readings.missing_contact == "404" else JSONResponse({})
        return JSONResponse(contact)

    async def _issue(self, request: Request) -> Response:
        """GET /api/v1/issues/{id}: one issue object, as seeded in the REST shape (§5)."""
        issue = self.issues.get(request.path_params["issue_id"])
        return not_found() if issue is None else OkdeskJSON(issue)

    async def _rate(self, request: Request) -> Response:
        """POST /api/v1/issues/{id}/rates: set the issue's rate."""
        issue_id: int = request.path_params["issue_id"]
        body = await json_body(request)
        issue = self.issues.get(issue_id)
        if issue is None:
            return not_found()
        try:
            value = rate_value(body)
        except ValidationError as invalid:
            return okdesk_errors(invalid.errors, 422)
        second = self.readings.second_rating if issue.get("rate") else "replaced"
        if second == "refused":
            return okdesk_errors({"rate": ["уже выставлена"]}, 422)
        if second == "replaced":
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
            return not_found()
        body = await json_body(request)
        try:
            comment = self._stored.add(issue_id, body)
        except ValidationError as invalid:
            return okdesk_errors(invalid.errors, 422)
        except RefusedError:
            return okdesk_errors("Доступ запрещен", 403)
        return JSONResponse(comment)

    async def _comments(self, request: Request) -> Response:
        """GET /api/v1/issues/{id}/comments: the ticket's comments, oldest first."""
        issue_id: int = request.path_params["issue_id"]
        if issue_id not in self.issues:
            return not_found()
        return OkdeskJSON(self.comments.get(issue_id, []))

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
            size, number = page_of(query)
            since = completed_since(query)
        except ValidationError as invalid:
            return okdesk_errors(invalid.errors, 422)
        statuses = set(query.getlist("status_codes[]") + query.getlist("status_codes"))
        found = [self.issues[key] for key in sorted(self.issues)]
        found = [issue for issue in found if matches(issue, statuses, since)]
        return OkdeskJSON(found[(number - 1) * size : number * size])

    def control_state(self) -> dict[str, Any]:
        """Return the public state as JSON-ready data."""
        return {
            "contacts": str_keys(self.contacts),
            "companies": str_keys(self.companies),
            "issues": str_keys(self.issues),
            "rate_posts": [[issue_id, body] for issue_id, body in self.rate_posts],
            "comments": str_keys(self.comments),
            "requests": len(self.requests),
            "readings": vars(self.readings),
        }

    def control_seed(self, data: dict[str, Any]) -> None:
        """Merge `{"contacts": {...}, "issues": {...}}` (str-keyed or lists) into the state."""
        self.contacts.update(int_keys(data.get("contacts", {})))
        self.companies.update(int_keys(data.get("companies", {})))
        self.issues.update(int_keys(data.get("issues", {})))
        self.readings.update(data.get("readings", {}))

    def control_fail(self, name: str, entries: list[Any]) -> None:
        """Queue failures given as JSON: `429` or `[429, {"Retry-After": "3"}]`."""
        self.fail(name, *(_entry(e) for e in entries))


def _entry(raw: Any) -> FailEntry:
    """A failure given as JSON: `429`, `[429, {"Retry-After": "3"}]` or `"lost"`."""
    if isinstance(raw, list):
        return (int(raw[0]), dict(raw[1]))
    return LOST if raw == LOST else int(raw)
