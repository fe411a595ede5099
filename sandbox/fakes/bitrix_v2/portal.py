"""The portal with imbot.v2: the v1 fake plus JSON-only v2 methods under a rate limit of
2 requests a second per application, the event queue, a clock tests can advance (24 h
retention), and what people do: press a button, type a message.

Throttling is unsettled (bitrix24-v2.md §6, open point 3): the v2 pages say HTTP 429, the
portal's general REST layer answers 503 `QUERY_LIMIT_EXCEEDED`. `v2_throttle_status` picks;
503 by default, the harsher reading: a 503 is also what a down portal and a manual block
(`OVERLOAD_LIMIT`, stop) answer, so only a client that reads the error code backs off
correctly, where a 429 says "too many" by itself.

imbot.v2 inside `batch` is unsettled too: the v2 pages document JSON bodies only and say
nothing of `batch`, whose sub-calls are query strings. By default (the harsher reading) a v2
sub-call is refused as any v2 request that is not JSON is (`INVALID_REQUEST`, in the batch's
`result_error`, the other sub-calls unaffected); `v2_in_batch` runs it, the batch counting once.
"""

from __future__ import annotations

import collections
import json
import time
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.fakes.bitrix import FakeBitrix
from sandbox.fakes.bitrix.php import Answer, BitrixError, as_int, as_str, method_key
from sandbox.fakes.bitrix_v2.methods import V2Methods
from sandbox.fakes.bitrix_v2.queue import (
    EventQueue,
    bot_object,
    message_object,
    private_chat,
    user_object,
)

V2_PREFIX = "imbot.v2."
PER_SECOND = 2
MAX_LIMIT = 1000


def php_pairs(value: Any, prefix: str) -> list[tuple[str, str]]:
    """`http_build_query` of nested data: every scalar a string, true "1", false "0", null ""."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in php_pairs(v, f"{prefix}[{k}]")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in php_pairs(v, f"{prefix}[{i}]")]
    if value is None:
        return [(prefix, "")]
    if isinstance(value, bool):
        return [(prefix, "1" if value else "0")]
    return [(prefix, str(value))]


class FakeBitrixV2(V2Methods, FakeBitrix):
    """A portal serving imbot.* (v1) and imbot.v2.*, with inspectable state."""

    def __init__(
        self,
        *args: Any,
        v2_rate_limit: bool = True,
        v2_throttle_status: Literal[429, 503] = 503,
        v2_in_batch: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.v2_in_batch = v2_in_batch
        self.queue = EventQueue()
        self.skew = 0.0
        self.v2_rate_limit = v2_rate_limit
        self.v2_throttle_status = v2_throttle_status
        self.limited = 0
        self._recent: dict[str, collections.deque[float]] = {}
        self._methods.update(
            {
                "imbot.v2.bot.register": self._v2_register,
                "imbot.v2.bot.update": self._v2_update,
                "imbot.v2.bot.unregister": self._v2_unregister,
                "imbot.v2.bot.get": self._v2_bot_get,
                "imbot.v2.command.register": self._v2_command_register,
                "imbot.v2.chat.message.send": self._v2_send,
                "imbot.v2.chat.message.update": self._v2_update_message,
                "imbot.v2.event.get": self._v2_event_get,
            }
        )
        controls = [
            Route("/_fake/v2/click", self._control_click, methods=["POST"]),
            Route("/_fake/v2/type", self._control_type, methods=["POST"]),
            Route("/_fake/v2/advance", self._control_advance, methods=["POST"]),
        ]
        self.app.router.routes[0:0] = controls

    def now(self) -> float:
        """The portal's clock: real time plus what tests advanced it by."""
        return time.time() + self.skew

    # --- HTTP layer -------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        """v2 methods take JSON bodies only and count against the application's 2 a second."""
        path = request.url.path
        method = (
            method_key(path[len(self.webhook_path) :]) if path.startswith(self.webhook_path) else ""
        )
        if method.startswith(V2_PREFIX):
            if "json" not in request.headers.get("content-type", ""):
                return JSONResponse(
                    {"error": "INVALID_REQUEST", "error_description": "JSON body expected"}, 400
                )
            if not self._v2_admit(await request.body()):
                self.limited += 1
                body = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
                return JSONResponse(body, self.v2_throttle_status)
        return await super()._endpoint(request)

    def _v2_admit(self, raw: bytes) -> bool:
        """At most two requests in any second per application (its botToken)."""
        if not self.v2_rate_limit:
            return True
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return True
        app = (
            as_str(body.get("CLIENT_ID") or body.get("botToken")) if isinstance(body, dict) else ""
        )
        now = time.monotonic()
        recent = self._recent.setdefault(app, collections.deque())
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= PER_SECOND:
            return False
        recent.append(now)
        return True

    def _batch_call(self, method: str, params: dict[str, Any]) -> Answer:
        """A v2 sub-call is refused like a v2 request without a JSON body, unless `v2_in_batch`."""
        if method.startswith(V2_PREFIX) and not self.v2_in_batch:
            raise BitrixError("INVALID_REQUEST", "JSON body expected")
        return self._call(method, params)

    def _call(self, method: str, params: dict[str, Any]) -> Answer:
        """v2 keys are camelCase: they reach the method as sent, not upper-cased."""
        if not method.startswith(V2_PREFIX):
            return super()._call(method, params)
        self.calls.append((method, params))
        queued = self.fail_next.get(method)
        if queued:
            raise self._queued_error(queued.pop(0))
        handler = self._methods.get(method)
        if handler is None:
            raise BitrixError("ERROR_METHOD_NOT_FOUND", "Method not found!")
        self._check_scope(method)
        return handler(params)

    def _v2_event_get(self, params: dict[str, Any]) -> Answer:
        """Event.get: acknowledge below `offset`, answer up to `limit` (1..1000) events."""
        bot = self._owned_bot(params)
        limit = as_int(params.get("limit")) if params.get("limit") is not None else 100
        if limit is None or not 1 <= limit <= MAX_LIMIT:
            raise BitrixError("INVALID_LIMIT", "limit must be 1..1000")
        offset = as_int(params.get("offset")) if params.get("offset") is not None else None
        self.queue.expire(self.now())
        return Answer(self.queue.read(bot["ID"], offset, limit))

    # --- what people do ---------------------------------------------------------------------

    def press(self, message_id: int, user_id: int, button: int = 0) -> bytes | None:
        """A person presses a button of a v2 bot message: the event is queued (fetch mode) or
        its form body returned (webhook mode); None when nothing would be raised."""
        message = self.messages.get(message_id)
        bot = self.bots.get(message["BOT_ID"]) if message else None
        keyboard = message.get("KEYBOARD") if message else None
        buttons = keyboard.get("BUTTONS") if isinstance(keyboard, dict) else None
        if message is None or bot is None or bot.get("API") != "v2" or not buttons:
            return None
        pressed = [b for b in buttons if b.get("TYPE") != "NEWLINE"][button]
        name = as_str(pressed.get("COMMAND")).lstrip("/")
        command = next(
            (c for c in self.commands.values() if (c["BOT_ID"], c["COMMAND"]) == (bot["ID"], name)),
            None,
        )
        if (
            command is None
            or not isinstance(keyboard, dict)
            or as_int(keyboard.get("BOT_ID")) != bot["ID"]
            or not self.sees(as_str(message["DIALOG_ID"]), user_id)
        ):
            return None
        now = self.now()
        data = self._event_data(bot, user_id, message_id, message["MESSAGE"], now)
        group = self.chat_object(as_str(message["DIALOG_ID"]))
        if group is not None:
            data["chat"], data["message"]["chatId"] = group, group["id"]
        data["command"] = {"id": command["ID"], "command": f"/{name}", "context": "keyboard"}
        data["command"]["params"] = as_str(pressed.get("COMMAND_PARAMS"))
        return self._deliver(bot, "ONIMBOTV2COMMANDADD", data, now)

    def type_message(self, bot_id: int, user_id: int, text: str) -> bytes | None:
        """A person writes to the bot in their private chat."""
        bot = self.bots.get(bot_id)
        if bot is None:
            return None
        message_id = next(self._message_ids)
        self.messages[message_id] = {"ID": message_id, "BOT_ID": 0, "DIALOG_ID": str(bot_id)}
        self.messages[message_id].update(MESSAGE=text, KEYBOARD=None, AUTHOR_ID=user_id)
        now = self.now()
        data = self._event_data(bot, user_id, message_id, text, now, author=user_id)
        return self._deliver(bot, "ONIMBOTV2MESSAGEADD", data, now)

    def _event_data(
        self, bot: dict[str, Any], user_id: int, message_id: int, text: str, now: float, **kw: int
    ) -> dict[str, Any]:
        user = next((u for u in self.users if as_int(u.get("ID")) == user_id), {})
        chat_id = 5000 + user_id
        author = kw.get("author", bot["ID"])
        return {
            "bot": bot_object(bot),
            "message": message_object(message_id, author, text, chat_id, now),
            "chat": private_chat(user_id, chat_id),
            "user": user_object(user, user_id),
            "language": self.language,
        }

    def _deliver(
        self, bot: dict[str, Any], kind: str, data: dict[str, Any], now: float
    ) -> bytes | None:
        if bot.get("EVENT_MODE") != "webhook":
            self.queue.add(bot["ID"], kind, data, now)
            return None
        # Webhook mode: one bot per call, the bot's callback tokens, a top-level auth block.
        data = {**data, "bot": {"id": bot["ID"], "code": bot["CODE"], "auth": self._auth(bot)}}
        pairs = [("event", kind), *php_pairs(data, "data"), ("ts", str(int(now)))]
        pairs += php_pairs(self._auth(bot), "auth")
        return urlencode(pairs).encode()

    def _auth(self, bot: dict[str, Any]) -> dict[str, Any]:
        # SRV's "synthetic APPLICATION_TOKEN" of a botToken bot (open point 7, unverified).
        return {
            "domain": self.domain,
            "member_id": self.member_id,
            "application_token": "custom" + bot["CLIENT_ID"],
            "client_endpoint": f"https://{self.domain}/rest/",
            "user_id": bot["ID"],
        }

    # --- control API ------------------------------------------------------------------------

    def control_state(self) -> dict[str, Any]:
        """The v1 state plus the queue: what waits, what expired, what was throttled."""
        state = super().control_state()
        state.update(
            events_pending=self.queue.pending(),
            events=[e["event"] for e in self.queue.events],
            events_expired=self.queue.expired,
            v2_limited=self.limited,
        )
        return state

    async def _control_click(self, request: Request) -> Response:
        body = await request.json()
        form = self.press(int(body["message_id"]), int(body["user_id"]), int(body.get("button", 0)))
        return JSONResponse({"form": form.decode() if form else None})

    async def _control_type(self, request: Request) -> Response:
        body = await request.json()
        form = self.type_message(int(body["bot_id"]), int(body["user_id"]), str(body["text"]))
        return JSONResponse({"form": form.decode() if form else None})

    async def _control_advance(self, request: Request) -> Response:
        self.skew += float((await request.json())["seconds"])
        self.queue.expire(self.now())
        return JSONResponse({"ok": True})
