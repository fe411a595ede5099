"""The portal itself: its state, the HTTP layer (webhook auth, latency, rate limit, queued
failures), method dispatch (user.get in `users`, batch in `batch`), and the control API tests
drive it by."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.fakes._common import (
    bad_gateway,
    control_routes,
    int_keys,
    read_json_object,
    str_keys,
    unflatten,
    unlucky,
)
from sandbox.fakes.bitrix.batch import BatchMethods
from sandbox.fakes.bitrix.messages import MEMBER_ID, PORTAL_DOMAIN
from sandbox.fakes.bitrix.people import PeopleMethods, people_routes
from sandbox.fakes.bitrix.php import (
    STATUS_ERROR,
    Answer,
    BitrixError,
    as_int,
    method_key,
    time_info,
    upper_keys,
)
from sandbox.fakes.bitrix.removal import removal_route
from sandbox.fakes.bitrix.scopes import DEFAULT_SCOPES
from sandbox.fakes.bitrix.users import UserMethods

FailEntry = int | str

NO_AUTH = {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}


async def _read_params(request: Request) -> dict[str, Any]:
    """Merge query-string and body parameters (JSON or PHP-style form)."""
    params = unflatten(request.query_params.multi_items())
    raw = await request.body()
    if not raw.strip():
        return params
    content_type = request.headers.get("content-type", "")
    if "json" in content_type or raw.lstrip().startswith(b"{"):
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise BitrixError("INVALID_REQUEST", "Invalid JSON body") from exc
        params.update(body if isinstance(body, dict) else {})
    else:
        params.update(unflatten(parse_qsl(raw.decode(), keep_blank_values=True)))
    return params


class FakeBitrix(PeopleMethods, UserMethods, BatchMethods):
    """Bitrix24 webhook REST fake speaking the real wire format, with inspectable state."""

    def __init__(
        self,
        webhook_path: str = "/rest/1/hooktoken/",
        latency: float = 0.0,
        rate_limit: bool = False,
        burst: int = 50,
        drain_per_second: float = 2.0,
        domain: str = PORTAL_DOMAIN,
        member_id: str = MEMBER_ID,
    ) -> None:
        """Create an empty portal; seed `users` before use. `domain` is the portal's host as
        events name it (`auth[domain]`)."""
        self.webhook_path = webhook_path if webhook_path.endswith("/") else webhook_path + "/"
        self.latency = latency
        self.error_rate = 0.0
        self.domain, self.member_id = domain, member_id  # member_id: one a portal, for good
        self.rate_limit = rate_limit
        self.burst = burst
        self.drain_per_second = drain_per_second
        self.check_client_id = True
        # Whether the webhook's user may use ADMIN_MODE (a portal administrator).
        self.owner_is_admin = True
        # The scopes the incoming webhook was created with.
        self.scopes = list(DEFAULT_SCOPES)
        # A manual block by Bitrix24: every request answers 503 OVERLOAD_LIMIT.
        self.overloaded = False
        # `time.operating_reset_at` of successful answers (None: ten minutes from now).
        self.operating_reset_at: int | None = None
        self._bucket = 0.0
        self._bucket_at = time.monotonic()
        self._empty_portal()
        self._methods = self._method_table()
        routes = [
            *control_routes(self),
            *people_routes(self),
            removal_route(self),
            Route("/_fake/rate_limit", self._set_rate_limit, methods=["POST"]),
            Route("/{path:path}", self._endpoint, methods=["GET", "POST"]),
        ]
        self.app = Starlette(routes=routes)

    def _empty_portal(self) -> None:
        """Start with no users, bots, commands, messages or recorded calls."""
        self.users = []
        # OAuth access tokens people's events carry, and whose they are (for `profile`).
        self.user_tokens: dict[str, int] = {}
        self.bots = {}
        self.commands = {}
        self.messages = {}
        self.chats = {}
        self.user_messages = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rejected_for_limit = 0
        self.http_requests = 0
        self.fail_next: dict[str, list[FailEntry]] = {}
        self.uneditable = set()
        self._bot_ids = itertools.count(567)
        self._command_ids = itertools.count(103)
        self._message_ids = itertools.count(84400)

    def _method_table(self) -> dict[str, Callable[[dict[str, Any]], Answer]]:
        """The REST methods this fake serves, by lower-case name."""
        return {
            "user.get": self._user_get,
            "imbot.register": self._register,
            "imbot.bot.list": self._bot_list,
            "imbot.update": self._update,
            "imbot.unregister": self._unregister,
            "imbot.command.register": self._command_register,
            "imbot.command.unregister": self._command_unregister,
            "imbot.command.update": self._command_update,
            "imbot.message.add": self._message_add,
            "imbot.message.update": self._message_update,
            "batch": self._batch,
            "scope": self._scope,
            "profile": self._owner_profile,
        }

    def fail(self, method: str, *entries: FailEntry) -> None:
        """Make the next calls of `method` fail: an HTTP status or a Bitrix error code."""
        self.fail_next.setdefault(method_key(method), []).extend(entries)

    # --- HTTP layer -------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        """Serve one REST call: auth, latency, rate limit, then the method."""
        start = time.time()
        self.http_requests += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        if unlucky(self.error_rate):
            return bad_gateway()
        path = request.url.path
        if path in ("/rest/profile", "/rest/profile.json"):
            return self._profile(await _read_params(request))
        if not path.startswith(self.webhook_path):
            return JSONResponse(NO_AUTH, 401)
        method = method_key(path[len(self.webhook_path) :])
        try:
            params = await _read_params(request)
            refusal = self._refusal()
            if refusal is not None:
                self.calls.append((method, params))
                raise refusal
            answer = self._call(method, params)
        except BitrixError as error:
            return JSONResponse(error.body(), error.status)
        return JSONResponse(self._success(answer, start))

    def _refusal(self) -> BitrixError | None:
        """The portal-wide refusal of this request, if any: a manual block or the rate limit."""
        if self.overloaded:
            return BitrixError("OVERLOAD_LIMIT")
        if not self._admit():
            return BitrixError("QUERY_LIMIT_EXCEEDED")
        return None

    def _success(self, answer: Answer, start: float) -> dict[str, Any]:
        """Build a success body with paging fields and `time`."""
        body: dict[str, Any] = {"result": answer.result}
        if answer.total is not None:
            body["total"] = answer.total
        if answer.next is not None:
            body["next"] = answer.next
        body["time"] = time_info(start, self.operating_reset_at)
        return body

    def _admit(self) -> bool:
        """Leaky bucket: admit one request, or count a rejection when the bucket is full."""
        if not self.rate_limit:
            return True
        now = time.monotonic()
        drained = (now - self._bucket_at) * self.drain_per_second
        self._bucket, self._bucket_at = max(0.0, self._bucket - drained), now
        if self._bucket + 1 > self.burst:
            self.rejected_for_limit += 1
            return False
        self._bucket += 1
        return True

    def _call(self, method: str, params: dict[str, Any]) -> Answer:
        """Record a call, apply a queued failure, then run the method."""
        self.calls.append((method, params))
        queued = self.fail_next.get(method)
        if queued:
            raise self._queued_error(queued.pop(0))
        handler = self._methods.get(method)
        if handler is None:
            raise BitrixError("ERROR_METHOD_NOT_FOUND", "Method not found!")
        self._check_scope(method)
        return handler(upper_keys(params))

    def _queued_error(self, entry: FailEntry) -> BitrixError:
        """Turn a queued failure into its error (counting QUERY_LIMIT_EXCEEDED answers)."""
        if isinstance(entry, int):
            error = BitrixError(STATUS_ERROR.get(entry, "ERROR_FAKE"), "", entry)
        else:
            error = BitrixError(entry)
        if error.code == "QUERY_LIMIT_EXCEEDED":
            self.rejected_for_limit += 1
        return error

    # --- control API ------------------------------------------------------------------------

    def control_state(self) -> dict[str, Any]:
        """Return the public state as JSON-ready data."""
        return {
            "users": self.users,
            "bots": str_keys(self.bots),
            "commands": str_keys(self.commands),
            "messages": str_keys(self.messages),
            "chats": str_keys(self.chats),
            "user_messages": str_keys(self.user_messages),
            "calls": len(self.calls),
            "calls_by_method": dict(Counter(method for method, _ in self.calls)),
            "rejected_for_limit": self.rejected_for_limit,
            "http_requests": self.http_requests,
            "uneditable": sorted(self.uneditable),
            "overloaded": self.overloaded,
            "member_id": self.member_id,
            "rate_limit": {
                "enabled": self.rate_limit,
                "burst": self.burst,
                "drain_per_second": self.drain_per_second,
            },
        }

    async def _set_rate_limit(self, request: Request) -> Response:
        """`/_fake/rate_limit`: switch the leaky bucket on or off, and size it."""
        data = await read_json_object(request)
        self.rate_limit = bool(data.get("enabled", self.rate_limit))
        self.burst = max(int(data.get("burst", self.burst)), 1)
        drain = float(data.get("drain_per_second", self.drain_per_second))
        self.drain_per_second = max(drain, 0.01)
        return JSONResponse(self.control_state()["rate_limit"])

    def control_seed(self, data: dict[str, Any]) -> None:
        """Merge `{"users": [...], "uneditable": [ids], "overloaded": bool, "chats": [...]}`;
        users (and chats) with a known ID are replaced."""
        seeded = int_keys(data.get("users", []))
        self.users = [u for u in self.users if as_int(u.get("ID")) not in seeded]
        self.users += seeded.values()
        self.uneditable.update(int(i) for i in data.get("uneditable", []))
        self.overloaded = bool(data.get("overloaded", self.overloaded))
        self.seed_chats(list(data.get("chats", [])))
        self.user_tokens.update({str(k): int(v) for k, v in data.get("user_tokens", {}).items()})

    def control_fail(self, name: str, entries: list[Any]) -> None:
        """Queue failures given as JSON: ints (HTTP status) or strings (error codes)."""
        self.fail(name, *(e if isinstance(e, str) else int(e) for e in entries))
