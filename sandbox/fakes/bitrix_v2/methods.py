"""The imbot.v2 methods a rating bot calls, as strict and odd as `bitrix24-v2.md` says the
portal is: JSON bodies with camelCase keys, `botToken` on every call (top-level `CLIENT_ID` or
`botToken` read before `fields.botToken`, as SRV does), ownership per token, `BOT_NOT_FOUND`,
keyboards whose button keys must be UPPERCASE, and Event.get acknowledging by offset."""

from __future__ import annotations

import itertools
import re
from typing import Any

from sandbox.fakes.bitrix.chats import ChatMethods
from sandbox.fakes.bitrix.php import Answer, BitrixError, as_int, as_str, php_json_array
from sandbox.fakes.bitrix_v2.queue import EventQueue, bot_object

MAX_TOKEN = 40
MAX_MESSAGE = 20_000
_COMMAND = re.compile(r"[A-Za-z0-9_\-]+")
EVENT_MODES = ("fetch", "webhook")
BOT_TYPES = ("bot", "supervisor", "personal", "openline")


def flag(value: Any) -> bool:
    """v2 booleans: true/false or "Y"/"N" (bitrix24-v2.md, Transport)."""
    return value is True or as_str(value).upper() in ("Y", "TRUE", "1")


def token_of(params: dict[str, Any], *, in_fields: bool = False) -> str:
    """The caller's application: top-level CLIENT_ID, then botToken, then fields.botToken."""
    fields = _fields(params)
    token = as_str(params.get("CLIENT_ID")) or as_str(params.get("botToken"))
    if not token and in_fields:
        token = as_str(fields.get("botToken"))
    if not token:
        raise BitrixError("BOT_TOKEN_NOT_SPECIFIED", "botToken is required")
    if len(token) > MAX_TOKEN:
        raise BitrixError("BOT_TOKEN_INVALID_LENGTH", "botToken is longer than 40 characters")
    return token


class V2Methods(ChatMethods):
    """The v2 methods, mixed into `FakeBitrixV2`, which creates this state."""

    users: list[dict[str, Any]]
    bots: dict[int, dict[str, Any]]
    commands: dict[int, dict[str, Any]]
    messages: dict[int, dict[str, Any]]
    uneditable: set[int]
    queue: EventQueue
    _bot_ids: itertools.count[int]
    _command_ids: itertools.count[int]
    _message_ids: itertools.count[int]

    def now(self) -> float:
        """The portal's clock (the portal advances it for retention tests)."""
        raise NotImplementedError

    def _owned_bot(self, params: dict[str, Any]) -> dict[str, Any]:
        """The bot named by botId, driven by the application that registered it."""
        token = token_of(params)
        if params.get("botId") in (None, ""):
            raise BitrixError("BOT_ID_REQUIRED", "botId is required")
        bot = self.bots.get(as_int(params.get("botId")) or 0)
        if bot is None:
            raise BitrixError("BOT_NOT_FOUND", "Bot not found")
        if bot["CLIENT_ID"] != token:
            raise BitrixError("BOT_OWNERSHIP_ERROR", "Bot belongs to another application")
        return bot

    def _v2_register(self, params: dict[str, Any]) -> Answer:
        """Bot.register: idempotent per code and application; portal-wide codes (SRV)."""
        fields = params.get("fields")
        if not isinstance(fields, dict):
            raise BitrixError("BOT_CODE_REQUIRED", "fields.code is required")
        token = token_of(params, in_fields=True)
        code = as_str(fields.get("code"))
        if not code:
            raise BitrixError("BOT_CODE_REQUIRED", "fields.code is required")
        props = fields.get("properties")
        if not isinstance(props, dict) or not as_str(props.get("name")):
            raise BitrixError("BOT_PROPERTIES_REQUIRED", "properties.name is required")
        taken = next((b for b in self.bots.values() if b["CODE"] == code), None)
        if taken is not None:
            if taken["CLIENT_ID"] != token:
                raise BitrixError("BOT_CODE_ALREADY_TAKEN", "Bot code is already taken")
            # Unchanged: the same application registering the same code gets its bot back
            # (a v1 bot too, when the token is that bot's CLIENT_ID).
            return Answer({"bot": bot_object(taken), "users": []})
        bot_id = next(self._bot_ids)
        bot: dict[str, Any] = {"ID": bot_id, "CODE": code, "CLIENT_ID": token, "API": "v2"}
        bot.update(NAME=as_str(props["name"]), PROPERTIES=props, TYPE="B", OPENLINE="N")
        bot.update(EVENT_HANDLER="", EVENTS={}, IS_HIDDEN=flag(fields.get("isHidden")))
        bot.update(V2_TYPE=as_str(fields.get("type")) or "bot")
        if bot["V2_TYPE"] not in BOT_TYPES:
            raise BitrixError("BOT_INVALID_TYPE", "type must be bot, supervisor, personal, ...")
        self._event_mode(bot, fields)
        self.bots[bot_id] = bot
        return Answer({"bot": bot_object(bot), "users": []})

    @staticmethod
    def _event_mode(bot: dict[str, Any], fields: dict[str, Any]) -> None:
        mode = as_str(fields.get("eventMode")) or bot.get("EVENT_MODE", "fetch")
        if mode not in EVENT_MODES:
            raise BitrixError("BOT_INVALID_EVENT_MODE", "eventMode must be fetch or webhook")
        url = as_str(fields.get("webhookUrl")) or bot.get("WEBHOOK_URL", "")
        if mode == "webhook" and not url:
            raise BitrixError("BOT_WEBHOOK_URL_REQUIRED", "webhookUrl is required")
        if url and not url.startswith(("http://", "https://")):
            raise BitrixError("BOT_INVALID_CALLBACK", "webhookUrl must be an http(s) URL")
        bot.update(EVENT_MODE=mode, WEBHOOK_URL=url if mode == "webhook" else "")

    def _v2_update(self, params: dict[str, Any]) -> Answer:
        """Bot.update: properties, event mode and URL, token rotation."""
        bot = self._owned_bot(params)
        fields = params.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise BitrixError("BOT_PROPERTIES_REQUIRED", "fields are required")
        props = fields.get("properties")
        if isinstance(props, dict) and as_str(props.get("name")):
            bot.update(NAME=as_str(props["name"]), PROPERTIES={**bot["PROPERTIES"], **props})
        if "isHidden" in fields:
            bot["IS_HIDDEN"] = flag(fields["isHidden"])
        self._event_mode(bot, fields)
        new_token = as_str(fields.get("botToken"))
        if new_token and new_token != bot["CLIENT_ID"]:
            if len(new_token) > MAX_TOKEN:
                raise BitrixError("BOT_TOKEN_INVALID_LENGTH", "botToken is too long")
            bot["CLIENT_ID"] = new_token
        return Answer({"bot": bot_object(bot), "users": []})

    def _v2_unregister(self, params: dict[str, Any]) -> Answer:
        """Bot.unregister: the bot, its commands and its queue go; its DELETE event is queued
        but Event.get answers BOT_NOT_FOUND from now on (open point 6, read the odd way)."""
        bot = self._owned_bot(params)
        self.queue.add(bot["ID"], "ONIMBOTV2DELETE", {"bot": bot_object(bot)}, self.now())
        del self.bots[bot["ID"]]
        for command_id in [k for k, c in self.commands.items() if c["BOT_ID"] == bot["ID"]]:
            del self.commands[command_id]
        return Answer(True)

    def _v2_bot_get(self, params: dict[str, Any]) -> Answer:
        """Bot.get by botId or code; brief for other applications."""
        token = token_of(params)
        wanted_id, code = as_int(params.get("botId")), as_str(params.get("code"))
        if wanted_id is None and not code:
            raise BitrixError("PARAMS_REQUIRED", "botId or code is required")
        bot = next(
            (b for b in self.bots.values() if b["ID"] == wanted_id or (code and b["CODE"] == code)),
            None,
        )
        if bot is None:
            raise BitrixError("BOT_NOT_FOUND", "Bot not found")
        found = bot_object(bot)
        if bot["CLIENT_ID"] != token:
            found = {k: found[k] for k in ("id", "code", "type", "isHidden", "language")}
        return Answer({"bot": found, "users": []})

    def _v2_command_register(self, params: dict[str, Any]) -> Answer:
        """Command.register: nested `fields` only (the flat form is legacy), idempotent."""
        bot = self._owned_bot(params)
        fields = params.get("fields")
        if not isinstance(fields, dict):
            raise BitrixError("COMMAND_REQUIRED", "fields.command is required")
        name = as_str(fields.get("command"))
        if not name:
            raise BitrixError("COMMAND_REQUIRED", "fields.command is required")
        if name.startswith("/") or not _COMMAND.fullmatch(name):
            raise BitrixError("COMMAND_NAME_INVALID", "latin letters, digits, no slash")
        hidden = flag(fields.get("hidden"))
        if not hidden and not isinstance(fields.get("title"), dict):
            raise BitrixError("COMMAND_TITLE_REQUIRED", "title is required unless hidden")
        existing = next(
            (c for c in self.commands.values() if (c["BOT_ID"], c["COMMAND"]) == (bot["ID"], name)),
            None,
        )
        if existing is None:
            existing = {"ID": next(self._command_ids), "BOT_ID": bot["ID"], "COMMAND": name}
            existing.update(HIDDEN="Y" if hidden else "N", COMMON=flag(fields.get("common")))
            extranet = flag(fields.get("extranetSupport"))
            existing.update(EXTRANET_SUPPORT="Y" if extranet else "N", CLIENT_ID=bot["CLIENT_ID"])
            self.commands[existing["ID"]] = existing
        command = {"id": existing["ID"], "botId": bot["ID"], "command": f"/{name}"}
        command.update(common=existing["COMMON"], hidden=existing["HIDDEN"] == "Y")
        command["extranetSupport"] = existing["EXTRANET_SUPPORT"] == "Y"
        return Answer({"command": command})

    def _v2_send(self, params: dict[str, Any]) -> Answer:
        """Chat.Message.send: text (cut at 20,000 with " (...)") and a keyboard."""
        bot = self._owned_bot(params)
        dialog_id = as_str(params.get("dialogId")).strip()
        if not dialog_id:
            raise BitrixError("DIALOG_ID_EMPTY", "dialogId is required")
        self.check_may_post(bot, dialog_id)
        fields = _fields(params)
        text = as_str(fields.get("message")).strip()
        if not text and not fields.get("attach"):
            raise BitrixError("EMPTY_MESSAGE", "Message can't be empty")
        if len(text) > MAX_MESSAGE:
            text = text[:MAX_MESSAGE] + " (...)"
        message_id = next(self._message_ids)
        self.messages[message_id] = {
            "ID": message_id,
            "BOT_ID": bot["ID"],
            "DIALOG_ID": dialog_id,
            "MESSAGE": text,
            "KEYBOARD": self._keyboard(bot, fields.get("keyboard")),
            "CLIENT_ID": bot["CLIENT_ID"],
            "API": "v2",
            "deleted": False,
        }
        # PHP's empty array is `[]`, never `{}` (bitrix24.md §13).
        return Answer({"id": message_id, "uuidMap": php_json_array({})})

    def _v2_update_message(self, params: dict[str, Any]) -> Answer:
        """Chat.Message.update: the bot's own messages, however old: v2 edits have no time
        limit, unlike v1's (`uneditable` is v1's period), bitrix24.md §13. A missing, deleted
        or another bot's message is ACCESS_DENIED, the one refusal; all emptied deletes it."""
        bot = self._owned_bot(params)
        message = self.messages.get(as_int(params.get("messageId")) or 0)
        fields = params.get("fields")
        if not isinstance(fields, dict) or not fields:
            raise BitrixError("PARAMS_REQUIRED", "fields are required")
        if message is None or message["BOT_ID"] != bot["ID"] or message.get("deleted"):
            raise BitrixError("ACCESS_DENIED", "Access denied")
        if "message" in fields:
            message["MESSAGE"] = as_str(fields["message"]).strip()
        if "keyboard" in fields:
            message["KEYBOARD"] = self._keyboard(bot, fields["keyboard"])
        message["deleted"] = not message["MESSAGE"] and not message["KEYBOARD"]
        return Answer({"result": True})

    @staticmethod
    def _keyboard(bot: dict[str, Any], keyboard: Any) -> dict[str, Any] | None:
        """Keep what the server would: "N" or empty removes; a bare array is wrapped; buttons
        need UPPERCASE `TEXT` and an action, else they are dropped; none left is an error."""
        if keyboard in (None, "", "N", [], {}):
            return None
        if isinstance(keyboard, list):
            keyboard = {"BUTTONS": keyboard}
        if not isinstance(keyboard, dict) or not isinstance(keyboard.get("BUTTONS"), list):
            raise BitrixError("KEYBOARD_ERROR", "Incorrect keyboard params")
        buttons = [
            b
            for b in keyboard["BUTTONS"]
            if isinstance(b, dict)
            and (b.get("TYPE") == "NEWLINE" or (as_str(b.get("TEXT")) and _has_action(b)))
        ]
        if not any(b.get("TYPE") != "NEWLINE" for b in buttons):
            raise BitrixError("KEYBOARD_ERROR", "Incorrect keyboard params")
        # Without BOT_ID beside BUTTONS, COMMAND buttons "may not be routed": kept as sent.
        return {**keyboard, "BUTTONS": buttons}


def _fields(params: dict[str, Any]) -> dict[str, Any]:
    fields = params.get("fields")
    return fields if isinstance(fields, dict) else {}


def _has_action(button: dict[str, Any]) -> bool:
    return any(as_str(button.get(k)) for k in ("LINK", "COMMAND", "ACTION", "APP_ID"))
