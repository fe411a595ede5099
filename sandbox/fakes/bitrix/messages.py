"""imbot.message.add/update: the messages bots post (what people do with them is in `people`)."""

from __future__ import annotations

import itertools
from typing import Any

from sandbox.fakes.bitrix.bots import BotMethods
from sandbox.fakes.bitrix.chats import ChatMethods
from sandbox.fakes.bitrix.php import Answer, BitrixError, as_int, as_str, upper_keys

PORTAL_DOMAIN = "acme.bitrix24.ru"
MEMBER_ID = "bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"


class MessageMethods(ChatMethods, BotMethods):
    """The message methods and button clicks, mixed into `FakeBitrix`, which creates this state."""

    users: list[dict[str, Any]]
    messages: dict[int, dict[str, Any]]
    uneditable: set[int]
    _message_ids: itertools.count[int]

    def _message_bot(self, params: dict[str, Any]) -> dict[str, Any]:
        """Find the sending bot: BOT_ID, or else the calling app's first bot."""
        if "BOT_ID" in params:
            return self._bot(params)
        client_id = as_str(params.get("CLIENT_ID"))
        bot = next((b for b in self.bots.values() if b["CLIENT_ID"] == client_id), None)
        if bot is None:
            raise BitrixError("BOT_ID_ERROR", "Bot not found")
        return bot

    def _message_add(self, params: dict[str, Any]) -> Answer:
        """imbot.message.add: post a bot message and return its id."""
        bot = self._message_bot(params)
        self._check_app(bot, params)
        dialog_id = as_str(params.get("DIALOG_ID")).strip()
        if not dialog_id:
            raise BitrixError("DIALOG_ID_EMPTY", "Dialog ID can't be empty")
        self.check_may_post(bot, dialog_id)
        text = as_str(params.get("MESSAGE")).strip()
        if not text and not params.get("ATTACH"):
            raise BitrixError("MESSAGE_EMPTY", "Message can't be empty")
        keyboard = params.get("KEYBOARD")
        if isinstance(keyboard, dict) and not upper_keys(keyboard).get("BUTTONS"):
            raise BitrixError("KEYBOARD_ERROR", "Incorrect keyboard params")
        message_id = next(self._message_ids)
        self.messages[message_id] = {
            "ID": message_id,
            "BOT_ID": bot["ID"],
            "DIALOG_ID": dialog_id,
            "MESSAGE": text,
            "KEYBOARD": keyboard or None,
            "CLIENT_ID": as_str(params.get("CLIENT_ID")),
            "deleted": False,
            # The fake's own record (as "deleted" is): posted with buttons, as an invitation is;
            # an edit may take them away later.
            "posted_with_buttons": bool(keyboard),
        }
        return Answer(message_id)

    def _message_update(self, params: dict[str, Any]) -> Answer:
        """imbot.message.update: replace text and/or keyboard; empty MESSAGE deletes."""
        message = self.messages.get(as_int(params.get("MESSAGE_ID")) or 0)
        if message is None:
            raise BitrixError("MESSAGE_ID_ERROR", "Message not found")
        bot = self._bot(params) if "BOT_ID" in params else self.bots.get(message["BOT_ID"], {})
        self._check_app({"CLIENT_ID": bot.get("CLIENT_ID", message["CLIENT_ID"])}, params)
        uneditable = message["ID"] in self.uneditable or message["deleted"]
        if uneditable or bot.get("ID") != message["BOT_ID"]:
            raise BitrixError("CANT_EDIT_MESSAGE")
        if "MESSAGE" in params:
            message["MESSAGE"] = as_str(params["MESSAGE"]).strip()
            message["deleted"] = not message["MESSAGE"]
        if "KEYBOARD" in params:
            keyboard = params["KEYBOARD"]
            message["KEYBOARD"] = None if keyboard in ("N", "", None, [], {}) else keyboard
        return Answer(True)
