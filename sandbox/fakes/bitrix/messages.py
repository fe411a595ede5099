"""imbot.message.add/update and what people do with bot messages: a button press becomes
the ONIMCOMMANDADD event Bitrix24 would post."""

from __future__ import annotations

import itertools
import time
from typing import Any
from urllib.parse import urlencode

from sandbox.fakes.bitrix.bots import BotMethods
from sandbox.fakes.bitrix.php import Answer, BitrixError, as_int, as_str, upper_keys

PORTAL_DOMAIN = "acme.bitrix24.ru"
MEMBER_ID = "bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"


class MessageMethods(BotMethods):
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

    # --- what people do in the portal -------------------------------------------------------

    def click(self, message_id: int, user_id: int, button: int = 0) -> bytes | None:
        """The ONIMCOMMANDADD body Bitrix24 would post when this user presses a button of a
        bot message; None when no event is raised: no such button or command, or an extranet
        user pressing a command without EXTRANET_SUPPORT=Y (core im/lib/command.php)."""
        message = self.messages.get(message_id)
        keyboard = upper_keys(message["KEYBOARD"]) if message else {}
        buttons = keyboard.get("BUTTONS")
        if message is None or not isinstance(buttons, list) or button >= len(buttons):
            return None
        pressed = upper_keys(buttons[button])
        name = as_str(pressed.get("COMMAND"))
        command = next(
            (
                c
                for c in self.commands.values()
                if c["BOT_ID"] == message["BOT_ID"] and c["COMMAND"] == name
            ),
            None,
        )
        user = next((u for u in self.users if as_int(u.get("ID")) == user_id), {})
        extranet = as_str(user.get("USER_TYPE")).lower() == "extranet"
        if command is None or (extranet and command["EXTRANET_SUPPORT"] != "Y"):
            return None
        fields = {"COMMAND_PARAMS": as_str(pressed.get("COMMAND_PARAMS")), "MESSAGE_ID": message_id}
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
