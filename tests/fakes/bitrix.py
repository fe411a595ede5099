"""In-memory fake of the Bitrix24 REST API (incoming webhook) for user.get, imbot.* and batch."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes._common import control_routes, int_keys, str_keys, unflatten

FailEntry = int | str

PAGE_SIZE = 50
MAX_BATCH = 50
MAX_BOTS_PER_APP = 5
NO_AUTH = {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
PORTAL_DOMAIN = "acme.bitrix24.ru"
MEMBER_ID = "bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"

# HTTP status of each error code (bitrix24.md §7); anything else is a 400 method error.
ERROR_STATUS = {
    "NO_AUTH_FOUND": 401,
    "expired_token": 401,
    "ACCESS_DENIED": 403,
    "insufficient_scope": 403,
    "INVALID_CREDENTIALS": 403,
    "user_access_error": 403,
    "WRONG_AUTH_TYPE": 403,
    "CANT_EDIT_MESSAGE": 403,
    "ERROR_BATCH_METHOD_NOT_ALLOWED": 405,
    "OPERATION_TIME_LIMIT": 429,
    "INTERNAL_SERVER_ERROR": 500,
    "PORTAL_DELETED": 500,
    "QUERY_LIMIT_EXCEEDED": 503,
    "OVERLOAD_LIMIT": 503,
}
# Error code used for a queued bare HTTP status.
STATUS_ERROR = {
    401: "NO_AUTH_FOUND",
    403: "ACCESS_DENIED",
    405: "ERROR_BATCH_METHOD_NOT_ALLOWED",
    429: "OPERATION_TIME_LIMIT",
    500: "INTERNAL_SERVER_ERROR",
    503: "QUERY_LIMIT_EXCEEDED",
}
DESCRIPTIONS = {
    "QUERY_LIMIT_EXCEEDED": "Too many requests",
    "OVERLOAD_LIMIT": "REST API is blocked due to overload.",
    "OPERATION_TIME_LIMIT": "Method is blocked due to operation time limit.",
    "INTERNAL_SERVER_ERROR": "Internal server error",
    "ACCESS_DENIED": "Access denied!",
    "CANT_EDIT_MESSAGE": "Time has expired for modification or you don't have access",
    "MESSAGE_ID_ERROR": "Message not found",
    "BOT_ID_ERROR": "Bot not found",
}
BOT_EVENTS = {
    "EVENT_MESSAGE_ADD": "ONIMBOTMESSAGEADD",
    "EVENT_WELCOME_MESSAGE": "ONIMBOTJOINCHAT",
    "EVENT_BOT_DELETE": "ONIMBOTDELETE",
    "EVENT_MESSAGE_UPDATE": "ONIMBOTMESSAGEUPDATE",
    "EVENT_MESSAGE_DELETE": "ONIMBOTMESSAGEDELETE",
}
REQUIRED_EVENTS = ("EVENT_MESSAGE_ADD", "EVENT_WELCOME_MESSAGE", "EVENT_BOT_DELETE")
USER_GET_RESERVED = {"SORT", "ORDER", "SELECT", "START", "ADMIN_MODE", "IMAGE_RESIZE", "AUTH"}
_REF = re.compile(r"\$result\[([^\]]+)\]((?:\[[^\]]*\])*)")
_COMMAND = re.compile(r"[A-Za-z0-9_\-]+")
# A PHP array key that PHP stores as an integer: a canonical decimal within int64.
_PHP_INT_KEY = re.compile(r"-?[1-9][0-9]{0,18}|0")
COMMAND_FIELDS = ("COMMAND", "HIDDEN", "EXTRANET_SUPPORT", "LANG")


class BitrixError(Exception):
    """A Bitrix24 REST error answered as `{"error", "error_description"}`."""

    def __init__(self, code: str, description: str = "", status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.description = description or DESCRIPTIONS.get(code, code)
        self.status = status or ERROR_STATUS.get(code, 400)

    def body(self) -> dict[str, str]:
        """Return the JSON error body."""
        return {"error": self.code, "error_description": self.description}


@dataclass
class Answer:
    """A method's result plus list paging fields."""

    result: Any
    total: int | None = None
    next: int | None = None


def _upper(value: Any) -> dict[str, Any]:
    """Return a dict with upper-cased keys ({} for non-dicts)."""
    if not isinstance(value, dict):
        return {}
    return {str(key).upper(): item for key, item in value.items()}


def _str(value: Any) -> str:
    """Read a scalar parameter as a string ("" when missing or not scalar)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value)


def _int(value: Any) -> int | None:
    """Read an id parameter given as int or digit string."""
    text = _str(value).strip()
    return int(text) if text.isdigit() else None


def _truthy(value: Any) -> bool:
    """Read a Bitrix boolean: true, 1, "Y", "true", "1"."""
    return value is True or _str(value).strip().upper() in {"Y", "TRUE", "1"}


def _yes_no(value: Any) -> str:
    """Normalise a flag to "Y"/"N"."""
    return "Y" if _truthy(value) else "N"


def _php_y(value: Any) -> str:
    """A flag as IMREST reads it (`$value == 'Y'`): "Y" or JSON true, anything else is "N"."""
    return "Y" if value is True or value == "Y" else "N"


def _php_truthy(value: Any) -> bool:
    """PHP's `if ($value)`: "", "0", 0, null, false and empty arrays are false; "N" is true."""
    return value not in ("", "0") if isinstance(value, str) else bool(value)


def _php_key(key: Any) -> int | str:
    """The key PHP stores: numeric strings ("7", not "07" or "+7") become integers."""
    if isinstance(key, int):
        return int(key)
    text = str(key)
    if _PHP_INT_KEY.fullmatch(text) and -(2**63) <= int(text) < 2**63:
        return int(text)
    return text


def php_json_array(mapping: Mapping[Any, Any]) -> list[Any] | dict[str, Any]:
    """PHP's `json_encode` of an array with these keys: a JSON list when the keys are exactly
    0..n-1 in order (so an empty array is `[]`), else an object keyed by the keys as text."""
    keys = [_php_key(key) for key in mapping]
    if keys == list(range(len(keys))):
        return list(mapping.values())
    return {str(key): value for key, value in zip(keys, mapping.values(), strict=True)}


def _time_info(start: float, operating_reset_at: int | None) -> dict[str, Any]:
    """Build the `time` block of a REST answer."""
    now = time.time()
    return {
        "start": start,
        "finish": now,
        "duration": now - start,
        "processing": now - start,
        "date_start": datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds"),
        "date_finish": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "operating_reset_at": operating_reset_at or int(now) + 600,
        "operating": 0,
    }


def _method_key(name: str) -> str:
    """Normalise a method name: lower case, no leading slash, no `.json` suffix."""
    name = name.strip().strip("/").lower()
    return name.removesuffix(".json")


def _check_url(key: str, url: str) -> str:
    """Validate a handler URL or raise `<key>_ERROR`."""
    if not url.startswith(("http://", "https://")):
        raise BitrixError(f"{key}_ERROR", "Wrong handler URL")
    return url


def delivery_url(url: str, client_id: str) -> str:
    """Return the URL Bitrix would post events to (it appends CLIENT_ID)."""
    return f"{url}{'&' if '?' in url else '?'}CLIENT_ID={client_id}"


def _event_urls(params: dict[str, Any], required: bool) -> dict[str, str]:
    """Read EVENT_HANDLER or the separate EVENT_* URLs; required ones raise when missing."""
    single = _str(params.get("EVENT_HANDLER"))
    urls: dict[str, str] = {}
    for key in BOT_EVENTS:
        url = single or _str(params.get(key))
        if url:
            urls[key] = _check_url(key, url)
        elif required and key in REQUIRED_EVENTS:
            raise BitrixError(f"{key}_ERROR", "Handler URL is not specified")
    return urls


def _bot_kind(params: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """Read TYPE, OPENLINE and the handler URLs (UPDATE/DELETE kept only for S/O/openline)."""
    bot_type = _str(params.get("TYPE")).upper()
    bot_type = bot_type if bot_type in {"B", "O", "H", "S"} else "B"
    openline = "Y" if bot_type == "O" else _yes_no(params.get("OPENLINE"))
    urls = _event_urls(params, required=True)
    if bot_type != "S" and openline == "N":
        urls = {k: v for k, v in urls.items() if k in REQUIRED_EVENTS}
    return bot_type, openline, urls


def _display_name(props: dict[str, Any]) -> str:
    """Join NAME and LAST_NAME, or raise NAME_ERROR when both are empty."""
    name = " ".join(p for p in (_str(props.get("NAME")), _str(props.get("LAST_NAME"))) if p)
    if not name.strip():
        raise BitrixError("NAME_ERROR", "Bot name is not specified")
    return name


def _user_matches(user: dict[str, Any], flt: dict[str, Any]) -> bool:
    """Apply a user.get filter: ACTIVE as a flag, other plain keys compared casefolded."""
    for key, wanted in flt.items():
        if key == "ACTIVE":
            if _truthy(wanted) != _truthy(user.get("ACTIVE")):
                return False
        elif key in user and _str(user[key]).casefold() != _str(wanted).casefold():
            return False
    return True


def _visible(user: dict[str, Any], admin_mode: bool) -> bool:
    """user.get hides extranet users outside the owner's groups (here: all) without ADMIN_MODE."""
    return admin_mode or _str(user.get("USER_TYPE")).lower() != "extranet"


def _resolve_refs(value: Any, results: dict[str, Any]) -> Any:
    """Replace `$result[key][i][FIELD]` references in batch parameters."""
    if isinstance(value, dict):
        return {key: _resolve_refs(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(item, results) for item in value]
    if not isinstance(value, str):
        return value
    return _REF.sub(lambda m: _str(_lookup(results, m.group(1), m.group(2))), value)


def _lookup(results: dict[str, Any], key: str, path: str) -> Any:
    """Follow `[a][b]` into an earlier batch result (None when absent)."""
    node: Any = results.get(key)
    for part in re.findall(r"\[([^\]]*)\]", path):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


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


class FakeBitrix:
    """Bitrix24 webhook REST fake speaking the real wire format, with inspectable state."""

    def __init__(
        self,
        webhook_path: str = "/rest/1/hooktoken/",
        latency: float = 0.0,
        rate_limit: bool = False,
        burst: int = 50,
        drain_per_second: float = 2.0,
    ) -> None:
        """Create an empty portal; seed `users` before use."""
        self.webhook_path = webhook_path if webhook_path.endswith("/") else webhook_path + "/"
        self.latency = latency
        self.rate_limit = rate_limit
        self.burst = burst
        self.drain_per_second = drain_per_second
        self.check_client_id = True
        # Whether the webhook's user may use ADMIN_MODE (a portal administrator).
        self.owner_is_admin = True
        # A manual block by Bitrix24: every request answers 503 OVERLOAD_LIMIT.
        self.overloaded = False
        # `time.operating_reset_at` of successful answers (None: ten minutes from now).
        self.operating_reset_at: int | None = None
        self.users: list[dict[str, Any]] = []
        # OAuth access tokens people's events carry, and whose they are (for `profile`).
        self.user_tokens: dict[str, int] = {}
        self.bots: dict[int, dict[str, Any]] = {}
        self.commands: dict[int, dict[str, Any]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rejected_for_limit = 0
        self.http_requests = 0
        self.fail_next: dict[str, list[FailEntry]] = {}
        self.uneditable: set[int] = set()
        self._bucket = 0.0
        self._bucket_at = time.monotonic()
        self._bot_ids = itertools.count(567)
        self._command_ids = itertools.count(103)
        self._message_ids = itertools.count(84400)
        self._methods = self._method_table()
        routes = [
            *control_routes(self),
            Route("/{path:path}", self._endpoint, methods=["GET", "POST"]),
        ]
        self.app = Starlette(routes=routes)

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
        }

    def fail(self, method: str, *entries: FailEntry) -> None:
        """Make the next calls of `method` fail: an HTTP status or a Bitrix error code."""
        self.fail_next.setdefault(_method_key(method), []).extend(entries)

    # --- HTTP layer -------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        """Serve one REST call: auth, latency, rate limit, then the method."""
        start = time.time()
        self.http_requests += 1
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        path = request.url.path
        if path in ("/rest/profile", "/rest/profile.json"):
            return await self._profile(request)
        if not path.startswith(self.webhook_path):
            return JSONResponse(NO_AUTH, 401)
        method = _method_key(path[len(self.webhook_path) :])
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

    async def _profile(self, request: Request) -> Response:
        """`profile` with OAuth (`auth=<access_token>`, query or body): the token's user."""
        params = await _read_params(request)
        token = _str(params.get("auth") or params.get("AUTH"))
        self.calls.append(("profile", {}))
        user_id = self.user_tokens.get(token)
        if user_id is None:
            body = {"error": "invalid_token", "error_description": "Unable to verify access token"}
            return JSONResponse(body, 401)
        user = next((u for u in self.users if _int(u.get("ID")) == user_id), {})
        result = {
            "ID": str(user_id),
            "ADMIN": False,
            "NAME": _str(user.get("NAME")),
            "LAST_NAME": _str(user.get("LAST_NAME")),
            "PERSONAL_GENDER": "",
            "TIME_ZONE": None,
        }
        timing = _time_info(time.time(), self.operating_reset_at)
        return JSONResponse({"result": result, "time": timing})

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
        body["time"] = _time_info(start, self.operating_reset_at)
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
        return handler(_upper(params))

    def _queued_error(self, entry: FailEntry) -> BitrixError:
        """Turn a queued failure into its error (counting QUERY_LIMIT_EXCEEDED answers)."""
        if isinstance(entry, int):
            error = BitrixError(STATUS_ERROR.get(entry, "ERROR_FAKE"), "", entry)
        else:
            error = BitrixError(entry)
        if error.code == "QUERY_LIMIT_EXCEEDED":
            self.rejected_for_limit += 1
        return error

    # --- shared checks ----------------------------------------------------------------------

    def _client_id(self, params: dict[str, Any]) -> str:
        """Read CLIENT_ID, which webhook calls to imbot.* must carry."""
        client_id = _str(params.get("CLIENT_ID"))
        if not client_id and self.check_client_id:
            raise BitrixError("ACCESS_DENIED", "Client ID not specified")
        return client_id

    def _check_app(self, owner: dict[str, Any], params: dict[str, Any]) -> None:
        """Refuse to drive a bot/command registered under another CLIENT_ID."""
        client_id = self._client_id(params)
        if self.check_client_id and owner.get("CLIENT_ID") != client_id:
            raise BitrixError("APP_ID_ERROR", "Bot was installed by another rest application")

    def _bot(self, params: dict[str, Any]) -> dict[str, Any]:
        """Find the bot named by BOT_ID or raise BOT_ID_ERROR."""
        bot = self.bots.get(_int(params.get("BOT_ID")) or 0)
        if bot is None:
            raise BitrixError("BOT_ID_ERROR", "Bot not found")
        return bot

    # --- methods ----------------------------------------------------------------------------

    def _user_get(self, params: dict[str, Any]) -> Answer:
        """user.get: filter users (FILTER, or top-level keys without it), 50 per page."""
        if "FILTER" in params:
            flt = _upper(params["FILTER"])
        else:
            flt = {k: v for k, v in params.items() if k not in USER_GET_RESERVED}
        admin_mode = self.owner_is_admin and _php_truthy(params.get("ADMIN_MODE"))
        found = [u for u in self.users if _user_matches(u, flt) and _visible(u, admin_mode)]
        found.sort(key=lambda u: _int(u.get("ID")) or 0)
        start = max(_int(params.get("START")) or 0, 0)
        more = start + PAGE_SIZE < len(found)
        return Answer(
            found[start : start + PAGE_SIZE], len(found), start + PAGE_SIZE if more else None
        )

    def _register(self, params: dict[str, Any]) -> Answer:
        """imbot.register: create a bot, or return the one with this CODE (rebinding handlers)."""
        client_id = self._client_id(params)
        code = _str(params.get("CODE"))
        if not code:
            raise BitrixError("CODE_ERROR", "Bot code is not specified")
        bot_type, openline, urls = _bot_kind(params)
        props = _upper(params.get("PROPERTIES"))
        name = _display_name(props)
        if sum(b["CLIENT_ID"] == client_id for b in self.bots.values()) >= MAX_BOTS_PER_APP:
            raise BitrixError("MAX_COUNT_ERROR", "Has reached the maximum number of bots")
        bot = next((b for b in self.bots.values() if b["CODE"] == code), None)
        if bot is None:
            bot = {"ID": next(self._bot_ids), "CODE": code, "NAME": name, "CLIENT_ID": client_id}
            bot.update(PROPERTIES=props, TYPE=bot_type, OPENLINE=openline)
            bot.update(EVENT_HANDLER="", EVENTS={})
            self.bots[bot["ID"]] = bot
        self._bind_events(bot, urls, _str(params.get("EVENT_HANDLER")))
        return Answer(bot["ID"])

    @staticmethod
    def _bind_events(bot: dict[str, Any], urls: dict[str, str], single: str) -> None:
        """Store handler URLs as given plus the delivery URLs Bitrix would call."""
        if not urls:
            return
        bot.update(urls)
        bot["EVENT_HANDLER"] = single or urls.get("EVENT_MESSAGE_ADD", bot["EVENT_HANDLER"])
        for key, url in urls.items():
            bot["EVENTS"][BOT_EVENTS[key]] = delivery_url(url, bot["CLIENT_ID"])

    def _bot_list(self, params: dict[str, Any]) -> Answer:
        """imbot.bot.list: all bots keyed by id (`[]` when none)."""
        bots = {
            str(bot_id): {
                "ID": bot_id,
                "NAME": b["NAME"],
                "CODE": b["CODE"],
                "OPENLINE": b["OPENLINE"],
            }
            for bot_id, b in self.bots.items()
        }
        return Answer(php_json_array(bots))

    def _update(self, params: dict[str, Any]) -> Answer:
        """imbot.update: change CODE, handlers and PROPERTIES of a bot."""
        bot = self._bot(params)
        self._check_app(bot, params)
        fields = _upper(params.get("FIELDS"))
        if not fields:
            raise BitrixError("WRONG_REQUEST", "Fields are empty")
        if "PROPERTIES" in fields:
            props = {**bot["PROPERTIES"], **_upper(fields["PROPERTIES"])}
            bot.update(NAME=_display_name(props), PROPERTIES=props)
        if _str(fields.get("CODE")):
            bot["CODE"] = _str(fields["CODE"])
        self._bind_events(
            bot, _event_urls(fields, required=False), _str(fields.get("EVENT_HANDLER"))
        )
        return Answer(True)

    def _unregister(self, params: dict[str, Any]) -> Answer:
        """imbot.unregister: delete a bot and its commands."""
        bot = self._bot(params)
        self._check_app(bot, params)
        del self.bots[bot["ID"]]
        for command_id in [k for k, c in self.commands.items() if c["BOT_ID"] == bot["ID"]]:
            del self.commands[command_id]
        return Answer(True)

    def _command_register(self, params: dict[str, Any]) -> Answer:
        """imbot.command.register: create a command, or return the bot's existing one."""
        bot = self._bot(params)
        self._check_app(bot, params)
        command = _str(params.get("COMMAND")).strip().lstrip("/")
        if not _COMMAND.fullmatch(command):
            raise BitrixError("COMMAND_ERROR", "Command text can't be empty")
        handler = _check_url("EVENT_COMMAND_ADD", _str(params.get("EVENT_COMMAND_ADD")))
        lang = params.get("LANG")
        if not lang:
            raise BitrixError("LANG_ERROR", "Lang set can't be empty")
        existing = next(
            (
                c
                for c in self.commands.values()
                if (c["BOT_ID"], c["COMMAND"]) == (bot["ID"], command)
            ),
            None,
        )
        if existing is None:
            existing = {"ID": next(self._command_ids), "BOT_ID": bot["ID"], "COMMAND": command}
            # Flags are read only here: registering an existing command keeps its old ones.
            existing.update({k: _php_y(params.get(k)) for k in ("HIDDEN", "COMMON")})
            existing.update(EXTRANET_SUPPORT=_php_y(params.get("EXTRANET_SUPPORT")))
            existing.update(LANG=lang, CLIENT_ID=bot["CLIENT_ID"])
            self.commands[existing["ID"]] = existing
        self._bind_command_handler(bot["CLIENT_ID"], handler)
        return Answer(existing["ID"])

    def _bind_command_handler(self, client_id: str, handler: str) -> None:
        """ONIMCOMMANDADD has one handler per app: (re)bind it for all the app's commands."""
        for command in self.commands.values():
            if command["CLIENT_ID"] == client_id:
                command["EVENT_COMMAND_ADD"] = handler
                command["EVENT_URL"] = delivery_url(handler, client_id)

    def _command_update(self, params: dict[str, Any]) -> Answer:
        """imbot.command.update: change COMMAND, HIDDEN, EXTRANET_SUPPORT, LANG or the handler."""
        command = self.commands.get(_int(params.get("COMMAND_ID")) or 0)
        if command is None:
            raise BitrixError("COMMAND_ID_ERROR", "Command not found")
        self._check_app(command, params)
        fields = _upper(params.get("FIELDS"))
        handler = _str(fields.get("EVENT_COMMAND_ADD"))
        if handler:
            _check_url("EVENT_COMMAND_ADD", handler)
        changes = {key: fields[key] for key in COMMAND_FIELDS if fields.get(key)}
        if not changes and not handler:
            raise BitrixError("WRONG_REQUEST", "Update fields can't be empty")
        for flag in ("HIDDEN", "EXTRANET_SUPPORT"):
            if flag in changes:
                changes[flag] = _php_y(changes[flag])
        command.update(changes)
        if handler:
            self._bind_command_handler(command["CLIENT_ID"], handler)
        return Answer(True)

    def _command_unregister(self, params: dict[str, Any]) -> Answer:
        """imbot.command.unregister: delete a command."""
        command = self.commands.get(_int(params.get("COMMAND_ID")) or 0)
        if command is None:
            raise BitrixError("COMMAND_ID_ERROR", "Command not found")
        self._check_app(command, params)
        del self.commands[command["ID"]]
        return Answer(True)

    def _message_bot(self, params: dict[str, Any]) -> dict[str, Any]:
        """Find the sending bot: BOT_ID, or else the calling app's first bot."""
        if "BOT_ID" in params:
            return self._bot(params)
        client_id = _str(params.get("CLIENT_ID"))
        bot = next((b for b in self.bots.values() if b["CLIENT_ID"] == client_id), None)
        if bot is None:
            raise BitrixError("BOT_ID_ERROR", "Bot not found")
        return bot

    def _message_add(self, params: dict[str, Any]) -> Answer:
        """imbot.message.add: post a bot message and return its id."""
        bot = self._message_bot(params)
        self._check_app(bot, params)
        dialog_id = _str(params.get("DIALOG_ID")).strip()
        if not dialog_id:
            raise BitrixError("DIALOG_ID_EMPTY", "Dialog ID can't be empty")
        text = _str(params.get("MESSAGE")).strip()
        if not text and not params.get("ATTACH"):
            raise BitrixError("MESSAGE_EMPTY", "Message can't be empty")
        keyboard = params.get("KEYBOARD")
        if isinstance(keyboard, dict) and not _upper(keyboard).get("BUTTONS"):
            raise BitrixError("KEYBOARD_ERROR", "Incorrect keyboard params")
        message_id = next(self._message_ids)
        self.messages[message_id] = {
            "ID": message_id,
            "BOT_ID": bot["ID"],
            "DIALOG_ID": dialog_id,
            "MESSAGE": text,
            "KEYBOARD": keyboard or None,
            "CLIENT_ID": _str(params.get("CLIENT_ID")),
            "deleted": False,
        }
        return Answer(message_id)

    def _message_update(self, params: dict[str, Any]) -> Answer:
        """imbot.message.update: replace text and/or keyboard; empty MESSAGE deletes."""
        message = self.messages.get(_int(params.get("MESSAGE_ID")) or 0)
        if message is None:
            raise BitrixError("MESSAGE_ID_ERROR", "Message not found")
        bot = self._bot(params) if "BOT_ID" in params else self.bots.get(message["BOT_ID"], {})
        self._check_app({"CLIENT_ID": bot.get("CLIENT_ID", message["CLIENT_ID"])}, params)
        uneditable = message["ID"] in self.uneditable or message["deleted"]
        if uneditable or bot.get("ID") != message["BOT_ID"]:
            raise BitrixError("CANT_EDIT_MESSAGE")
        if "MESSAGE" in params:
            message["MESSAGE"] = _str(params["MESSAGE"]).strip()
            message["deleted"] = not message["MESSAGE"]
        if "KEYBOARD" in params:
            keyboard = params["KEYBOARD"]
            message["KEYBOARD"] = None if keyboard in ("N", "", None, [], {}) else keyboard
        return Answer(True)

    def _batch(self, params: dict[str, Any]) -> Answer:
        """batch: run up to 50 sub-calls, collecting results and errors per key."""
        cmd = params.get("CMD") or {}
        commands = dict(enumerate(cmd)) if isinstance(cmd, list) else cmd
        if not isinstance(commands, dict):
            raise BitrixError("INVALID_REQUEST", "cmd must be an object")
        if len(commands) > MAX_BATCH:
            raise BitrixError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded")
        out: dict[str, dict[str, Any]] = {
            n: {} for n in ("result", "error", "total", "next", "time")
        }
        for key, query in commands.items():
            if not self._batch_one(str(key), _str(query), out) and _truthy(params.get("HALT")):
                break
        # Each map is a PHP array keyed by the cmd keys: "0".."n-1" come back as a JSON list.
        names = {"result": "result", "error": "result_error", "total": "result_total"}
        names.update(next="result_next", time="result_time")
        return Answer({name: php_json_array(out[part]) for part, name in names.items()})

    def _batch_one(self, key: str, query: str, out: dict[str, dict[str, Any]]) -> bool:
        """Run one batch sub-call into `out`; return False when it failed."""
        start = time.time()
        name, _, query_string = query.partition("?")
        method = _method_key(name)
        params = unflatten(parse_qsl(query_string, keep_blank_values=True))
        try:
            if method == "batch":
                raise BitrixError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed")
            answer = self._call(method, _resolve_refs(params, out["result"]))
        except BitrixError as error:
            out["error"][key] = error.body()
            return False
        out["result"][key] = answer.result
        if answer.total is not None:
            out["total"][key] = answer.total
        if answer.next is not None:
            out["next"][key] = answer.next
        out["time"][key] = _time_info(start, self.operating_reset_at)
        return True

    # --- what people do in the portal -------------------------------------------------------

    def click(self, message_id: int, user_id: int, button: int = 0) -> bytes | None:
        """The ONIMCOMMANDADD body Bitrix24 would post when this user presses a button of a
        bot message; None when no event is raised: no such button or command, or an extranet
        user pressing a command without EXTRANET_SUPPORT=Y (core im/lib/command.php)."""
        message = self.messages.get(message_id)
        keyboard = _upper(message["KEYBOARD"]) if message else {}
        buttons = keyboard.get("BUTTONS")
        if message is None or not isinstance(buttons, list) or button >= len(buttons):
            return None
        pressed = _upper(buttons[button])
        name = _str(pressed.get("COMMAND"))
        command = next(
            (
                c
                for c in self.commands.values()
                if c["BOT_ID"] == message["BOT_ID"] and c["COMMAND"] == name
            ),
            None,
        )
        user = next((u for u in self.users if _int(u.get("ID")) == user_id), {})
        extranet = _str(user.get("USER_TYPE")).lower() == "extranet"
        if command is None or (extranet and command["EXTRANET_SUPPORT"] != "Y"):
            return None
        fields = {"COMMAND_PARAMS": _str(pressed.get("COMMAND_PARAMS")), "MESSAGE_ID": message_id}
        return self._command_event(command, user_id, extranet, fields)

    def _command_event(
        self, command: dict[str, Any], user_id: int, extranet: bool, fields: dict[str, Any]
    ) -> bytes:
        """An ONIMCOMMANDADD form body for a click in the user's private chat with the bot."""
        bot = self.bots[command["BOT_ID"]]
        head = f"data[COMMAND][{command['ID']}]"
        pairs: list[tuple[str, Any]] = [("event", "ONIMCOMMANDADD"), ("event_handler_id", 1045)]
        values = {"BOT_ID": bot["ID"], "BOT_CODE": bot["CODE"], "COMMAND": command["COMMAND"]}
        values.update(COMMAND_ID=command["ID"], COMMAND_CONTEXT="KEYBOARD", **fields)
        pairs += [(f"{head}[{key}]", value) for key, value in values.items()]
        params = {"DIALOG_ID": user_id, "MESSAGE_TYPE": "P", "CHAT_TYPE": "P"}
        params.update(FROM_USER_ID=user_id, TO_USER_ID=bot["ID"], MESSAGE_ID=fields["MESSAGE_ID"])
        pairs += [(f"data[PARAMS][{key}]", value) for key, value in params.items()]
        pairs += [("data[USER][ID]", user_id), ("data[USER][IS_BOT]", "N")]
        pairs += [("data[USER][IS_EXTRANET]", "Y" if extranet else "N"), ("ts", int(time.time()))]
        auth = {"domain": PORTAL_DOMAIN, "member_id": MEMBER_ID, "user_id": user_id}
        auth["application_token"] = command["CLIENT_ID"]
        pairs += [(f"auth[{key}]", value) for key, value in auth.items()]
        return urlencode(pairs).encode()

    # --- control API ------------------------------------------------------------------------

    def control_state(self) -> dict[str, Any]:
        """Return the public state as JSON-ready data."""
        return {
            "users": self.users,
            "bots": str_keys(self.bots),
            "commands": str_keys(self.commands),
            "messages": str_keys(self.messages),
            "calls": len(self.calls),
            "calls_by_method": dict(Counter(method for method, _ in self.calls)),
            "rejected_for_limit": self.rejected_for_limit,
            "http_requests": self.http_requests,
            "uneditable": sorted(self.uneditable),
            "overloaded": self.overloaded,
        }

    def control_seed(self, data: dict[str, Any]) -> None:
        """Merge `{"users": [...], "uneditable": [ids], "overloaded": bool}`; users with a known
        ID are replaced."""
        seeded = int_keys(data.get("users", []))
        self.users = [u for u in self.users if _int(u.get("ID")) not in seeded]
        self.users += seeded.values()
        self.uneditable.update(int(i) for i in data.get("uneditable", []))
        self.overloaded = bool(data.get("overloaded", self.overloaded))
        self.user_tokens.update({str(k): int(v) for k, v in data.get("user_tokens", {}).items()})

    def control_fail(self, name: str, entries: list[Any]) -> None:
        """Queue failures given as JSON: ints (HTTP status) or strings (error codes)."""
        self.fail(name, *(e if isinstance(e, str) else int(e) for e in entries))
