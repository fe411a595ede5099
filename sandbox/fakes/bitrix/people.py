"""What people do in the portal: press a bot message's button (ONIMCOMMANDADD) or write to the
bot (ONIMBOTMESSAGEADD). Each builds the form body Bitrix24 posts to the handler, in the shape of
the captured events (bitrix24.md §5), and `deliver` posts it once, as Bitrix24 does (no retry).

A bot registered over an incoming webhook with CLIENT_ID is bound with no application, so its
events carry no token at all: `auth` holds only `domain`, `member_id` and `application_token`,
and `data[BOT][id]` only the bot's id and code (bitrix24.md §12). That is the default here;
`user_tokens_in_events` (`POST /_fake/event_tokens`) gives the other reading, an OAuth
application's events, with the person's access token (§5) that `profile` knows.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.fakes._common import read_json_object
from sandbox.fakes.bitrix.messages import MessageMethods
from sandbox.fakes.bitrix.php import Answer, as_int, as_str, time_info, truthy, upper_keys

Pairs = list[tuple[str, Any]]
SERVER_ENDPOINT = "https://oauth.bitrix.info/rest/"
TOKEN_LIFETIME = 3600


class PeopleMethods(MessageMethods):
    """Clicks and typed messages, mixed into `FakeBitrix`, which sets `domain` and the state."""

    domain: str
    member_id: str
    user_tokens: dict[str, int]
    user_messages: dict[int, dict[str, Any]]
    calls: list[tuple[str, dict[str, Any]]]
    webhook_path: str
    owner_is_admin: bool
    operating_reset_at: int | None
    # The other reading: events carry the person's OAuth token, as an application's do (§5).
    user_tokens_in_events: bool = False
    # What events say in data[PARAMS][LANGUAGE]: the portal's language (bitrix24.md §8).
    language: str = "ru"

    def _profile(self, params: dict[str, Any]) -> Response:
        """`profile` with OAuth (`auth=<access_token>`, query or body): the token's user; a
        deactivated user's token answers an empty result, PHP's `[]` (bitrix24.md §13)."""
        token = as_str(params.get("auth") or params.get("AUTH"))
        self.calls.append(("profile", {}))
        user_id = self.user_tokens.get(token)
        if user_id is None:
            body = {"error": "invalid_token", "error_description": "Unable to verify access token"}
            return JSONResponse(body, 401)
        user = next((u for u in self.users if as_int(u.get("ID")) == user_id), {})
        found = self._profile_of(user_id, admin=False) if truthy(user.get("ACTIVE", True)) else []
        timing = time_info(time.time(), self.operating_reset_at)
        return JSONResponse({"result": found, "time": timing})

    def _owner_profile(self, _params: dict[str, Any]) -> Answer:
        """`profile` over the webhook: its owner, with `ADMIN` (bitrix24.md §13)."""
        owner = as_int(self.webhook_path.strip("/").split("/")[1]) or 1
        return Answer(self._profile_of(owner, admin=self.owner_is_admin))

    def _profile_of(self, user_id: int, *, admin: bool) -> dict[str, Any]:
        user = next((u for u in self.users if as_int(u.get("ID")) == user_id), {})
        return {
            "ID": str(user_id),
            "ADMIN": admin,
            "NAME": as_str(user.get("NAME")),
            "LAST_NAME": as_str(user.get("LAST_NAME")),
            "PERSONAL_GENDER": "",
            "TIME_ZONE": None,
        }

    def access_token(self, user_id: int) -> str:
        """The person's OAuth access token (minted once; `profile` knows whose it is)."""
        token = next((t for t, owner in self.user_tokens.items() if owner == user_id), None)
        if token is None:
            token = secrets.token_hex(24)
            self.user_tokens[token] = user_id
        return token

    def _oauth(self, user_id: int, access_token: str, application_token: str) -> dict[str, Any]:
        """An OAuth block as events carry it (`auth[...]`, and the bot's own)."""
        expires = int(time.time()) + TOKEN_LIFETIME
        return {
            "access_token": access_token,
            "expires": expires,
            "expires_in": TOKEN_LIFETIME,
            "scope": "imbot,user_basic",
            "domain": self.domain,
            "server_endpoint": SERVER_ENDPOINT,
            "status": "L",
            "client_endpoint": f"https://{self.domain}/rest/",
            "member_id": self.member_id,
            "user_id": user_id,
            "refresh_token": secrets.token_hex(24),
            "application_token": application_token,
        }

    def _bot_block(self, head: str, bot: dict[str, Any]) -> Pairs:
        """The bot's OAuth block, flat and again under AUTH (only with tokens in events),
        then its id and code."""
        ids: Pairs = [(f"{head}[BOT_ID]", bot["ID"]), (f"{head}[BOT_CODE]", bot["CODE"])]
        if not self.user_tokens_in_events:
            return ids
        oauth = self._oauth(bot["ID"], secrets.token_hex(24), bot["CLIENT_ID"])
        oauth["client_id"] = f"local.{secrets.token_hex(7)}"
        pairs: Pairs = [(f"{head}[{key}]", value) for key, value in oauth.items()]
        pairs += [(f"{head}[AUTH][{key}]", value) for key, value in oauth.items()]
        return pairs + ids

    def _person(self, user_id: int) -> tuple[Pairs, bool]:
        """`data[USER][...]` of the acting person, and whether they are an extranet user."""
        user = next((u for u in self.users if as_int(u.get("ID")) == user_id), {})
        first, last = as_str(user.get("NAME")), as_str(user.get("LAST_NAME"))
        extranet = as_str(user.get("USER_TYPE")).lower() == "extranet"
        values = {"ID": user_id, "NAME": f"{first} {last}".strip(), "FIRST_NAME": first}
        values.update(LAST_NAME=last, WORK_POSITION=as_str(user.get("WORK_POSITION")), GENDER="")
        values.update(IS_BOT="N", IS_CONNECTOR="N", IS_NETWORK="N")
        values["IS_EXTRANET"] = "Y" if extranet else "N"
        return [(f"data[USER][{key}]", value) for key, value in values.items()], extranet

    def _tail(self, user_id: int, application_token: str) -> Pairs:
        """`ts` and the `auth[...]` block, which end every event: the portal and the
        subscription only, or with tokens in events the person's whole OAuth block."""
        if self.user_tokens_in_events:
            oauth = self._oauth(user_id, self.access_token(user_id), application_token)
        else:
            oauth = {"domain": self.domain, "member_id": self.member_id}
            oauth["application_token"] = application_token
        return [("ts", int(time.time()))] + [(f"auth[{k}]", v) for k, v in oauth.items()]

    def click(self, message_id: int, user_id: int, button: int = 0) -> bytes | None:
        """The ONIMCOMMANDADD body Bitrix24 would post when this user presses a button of a
        bot message; None when no event is raised: no such button or command, an extranet
        user pressing a command without EXTRANET_SUPPORT=Y (core im/lib/command.php), or a
        group chat's message pressed by someone not in the chat (`chats`)."""
        found = self._pressed(message_id, button)
        if found is None:
            return None
        command, params = found
        person, extranet = self._person(user_id)
        dialog_id = as_str(self.messages[message_id]["DIALOG_ID"])
        if (extranet and command["EXTRANET_SUPPORT"] != "Y") or not self.sees(dialog_id, user_id):
            return None
        bot = self.bots[command["BOT_ID"]]
        head = f"data[COMMAND][{command['ID']}]"
        pairs: Pairs = [("event", "ONIMCOMMANDADD"), ("event_handler_id", 1045)]
        pairs += self._bot_block(head, bot)
        values = {"COMMAND": command["COMMAND"], "COMMAND_ID": command["ID"]}
        values.update(COMMAND_PARAMS=params, COMMAND_CONTEXT="KEYBOARD", MESSAGE_ID=message_id)
        pairs += [(f"{head}[{key}]", value) for key, value in values.items()]
        chat = self.click_place(dialog_id, user_id, bot["ID"])
        chat.update(MESSAGE_ID=message_id, LANGUAGE=self.language)
        pairs += [(f"data[PARAMS][{key}]", value) for key, value in chat.items()]
        return urlencode(pairs + person + self._tail(user_id, command["CLIENT_ID"])).encode()

    def _pressed(self, message_id: int, button: int) -> tuple[dict[str, Any], str] | None:
        """The command a button of a bot message runs, and its COMMAND_PARAMS."""
        message = self.messages.get(message_id)
        keyboard = upper_keys(message["KEYBOARD"]) if message else {}
        buttons = keyboard.get("BUTTONS")
        if message is None or not isinstance(buttons, list) or not 0 <= button < len(buttons):
            return None
        pressed = upper_keys(buttons[button])
        name = as_str(pressed.get("COMMAND"))
        for command in self.commands.values():
            if (command["BOT_ID"], command["COMMAND"]) == (message["BOT_ID"], name):
                return command, as_str(pressed.get("COMMAND_PARAMS"))
        return None

    def write(self, user_id: int, text: str, bot_id: int | None = None) -> bytes | None:
        """Post the person's message in their private chat with a bot (the first, unless
        named); the ONIMBOTMESSAGEADD body Bitrix24 would post, or None with no such bot."""
        bot = self.bots.get(bot_id) if bot_id else next(iter(self.bots.values()), None)
        if bot is None:
            return None
        message_id = next(self._message_ids)
        self.user_messages[message_id] = {
            "ID": message_id,
            "AUTHOR_ID": user_id,
            "BOT_ID": bot["ID"],
            "MESSAGE": text,
        }
        pairs: Pairs = [("event", "ONIMBOTMESSAGEADD"), ("event_handler_id", 403)]
        pairs += self._bot_block(f"data[BOT][{bot['ID']}]", bot)
        chat: dict[str, Any] = {"MESSAGE": text, "TEMPLATE_ID": str(uuid.uuid4())}
        chat["MESSAGE_TYPE"] = "P"
        chat.update(FROM_USER_ID=user_id, DIALOG_ID=user_id, TO_CHAT_ID=1000 + user_id)
        chat.update(AUTHOR_ID=user_id, TO_USER_ID=bot["ID"], SYSTEM="N")
        chat.update(COMMAND_CONTEXT="TEXTAREA", PLATFORM_CONTEXT="web", MESSAGE_ID=message_id)
        chat.update(CHAT_TYPE="P", LANGUAGE=self.language, PUSH="Y", CONVERT="N", SKIP_COMMAND="N")
        chat.update(SKIP_CONNECTOR="N", FAKE_RELATION=0)
        pairs += [(f"data[PARAMS][{key}]", value) for key, value in chat.items()]
        person, _ = self._person(user_id)
        return urlencode(pairs + person + self._tail(user_id, bot["CLIENT_ID"])).encode()

    def handler(self, event: str, message_id: int = 0, bot_id: int | None = None) -> str:
        """The URL Bitrix24 posts this event to ('' when nothing is bound)."""
        if event == "ONIMCOMMANDADD":
            message = self.messages.get(message_id, {})
            owned = [c for c in self.commands.values() if c["BOT_ID"] == message.get("BOT_ID")]
            return as_str(owned[0].get("EVENT_URL")) if owned else ""
        bot = self.bots.get(bot_id) if bot_id else next(iter(self.bots.values()), None)
        return as_str((bot or {}).get("EVENTS", {}).get(event))


async def deliver(url: str, body: bytes) -> int:
    """POST an event once, form-encoded, as Bitrix24 does; the handler's status (0: no answer)."""
    headers = {"content-type": "application/x-www-form-urlencoded"}
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            return (await client.post(url, content=body, headers=headers)).status_code
    except httpx.HTTPError:
        return 0


def people_routes(fake: PeopleMethods) -> list[BaseRoute]:
    """`/_fake/press` and `/_fake/write`: a person's click or message, delivered as an event."""

    async def press(request: Request) -> JSONResponse:
        """Press button `button` of bot message `message_id` as user `user_id`."""
        data = await read_json_object(request)
        message_id = int(data["message_id"])
        body = fake.click(message_id, int(data["user_id"]), int(data.get("button", 0)))
        url = fake.handler("ONIMCOMMANDADD", message_id=message_id)
        if body is None or not url:
            return JSONResponse({"delivered": False, "status": None})
        status = await deliver(url, body)
        return JSONResponse({"delivered": True, "status": status})

    async def write(request: Request) -> JSONResponse:
        """Write `text` to the bot as user `user_id`."""
        data = await read_json_object(request)
        bot_id = int(data["bot_id"]) if data.get("bot_id") else None
        body = fake.write(int(data["user_id"]), str(data["text"]), bot_id)
        url = fake.handler("ONIMBOTMESSAGEADD", bot_id=bot_id)
        if body is None or not url:
            return JSONResponse({"delivered": False, "status": None})
        status = await deliver(url, body)
        return JSONResponse({"delivered": True, "status": status})

    async def event_tokens(request: Request) -> JSONResponse:
        """`{"enabled": bool}`: whether events carry the person's token (the other reading)."""
        data = await read_json_object(request)
        fake.user_tokens_in_events = bool(data.get("enabled", fake.user_tokens_in_events))
        return JSONResponse({"enabled": fake.user_tokens_in_events})

    return [
        _language_route(fake),
        Route("/_fake/press", press, methods=["POST"]),
        Route("/_fake/write", write, methods=["POST"]),
        Route("/_fake/event_tokens", event_tokens, methods=["POST"]),
    ]


def _language_route(fake: PeopleMethods) -> Route:
    """`POST /_fake/language {"language": "ru" | "en"}`: the portal's language, which events
    carry."""

    async def language(request: Request) -> JSONResponse:
        data = await read_json_object(request)
        fake.language = "en" if data.get("language") == "en" else "ru"
        return JSONResponse({"language": fake.language})

    return Route("/_fake/language", language, methods=["POST"])
