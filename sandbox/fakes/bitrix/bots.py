"""imbot.register/update/unregister, imbot.bot.list and imbot.command.*: the bots an app
owns, their commands and the event handler URLs Bitrix24 would post to."""

from __future__ import annotations

import itertools
import re
from typing import Any

from sandbox.fakes.bitrix.php import (
    Answer,
    BitrixError,
    as_int,
    as_str,
    php_json_array,
    php_y,
    upper_keys,
    yes_no,
)

MAX_BOTS_PER_APP = 5
BOT_EVENTS = {
    "EVENT_MESSAGE_ADD": "ONIMBOTMESSAGEADD",
    "EVENT_WELCOME_MESSAGE": "ONIMBOTJOINCHAT",
    "EVENT_BOT_DELETE": "ONIMBOTDELETE",
    "EVENT_MESSAGE_UPDATE": "ONIMBOTMESSAGEUPDATE",
    "EVENT_MESSAGE_DELETE": "ONIMBOTMESSAGEDELETE",
}
REQUIRED_EVENTS = ("EVENT_MESSAGE_ADD", "EVENT_WELCOME_MESSAGE", "EVENT_BOT_DELETE")
_COMMAND = re.compile(r"[A-Za-z0-9_\-]+")
COMMAND_FIELDS = ("COMMAND", "HIDDEN", "EXTRANET_SUPPORT", "LANG")


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
    single = as_str(params.get("EVENT_HANDLER"))
    urls: dict[str, str] = {}
    for key in BOT_EVENTS:
        url = single or as_str(params.get(key))
        if url:
            urls[key] = _check_url(key, url)
        elif required and key in REQUIRED_EVENTS:
            raise BitrixError(f"{key}_ERROR", "Handler URL is not specified")
    return urls


def _bot_kind(params: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """Read TYPE, OPENLINE and the handler URLs (UPDATE/DELETE kept only for S/O/openline)."""
    bot_type = as_str(params.get("TYPE")).upper()
    bot_type = bot_type if bot_type in {"B", "O", "H", "S"} else "B"
    openline = "Y" if bot_type == "O" else yes_no(params.get("OPENLINE"))
    urls = _event_urls(params, required=True)
    if bot_type != "S" and openline == "N":
        urls = {k: v for k, v in urls.items() if k in REQUIRED_EVENTS}
    return bot_type, openline, urls


def _display_name(props: dict[str, Any]) -> str:
    """Join NAME and LAST_NAME, or raise NAME_ERROR when both are empty."""
    name = " ".join(p for p in (as_str(props.get("NAME")), as_str(props.get("LAST_NAME"))) if p)
    if not name.strip():
        raise BitrixError("NAME_ERROR", "Bot name is not specified")
    return name


class BotMethods:
    """The bot and command methods, mixed into `FakeBitrix`, which creates this state."""

    check_client_id: bool
    bots: dict[int, dict[str, Any]]
    commands: dict[int, dict[str, Any]]
    _bot_ids: itertools.count[int]
    _command_ids: itertools.count[int]

    def _client_id(self, params: dict[str, Any]) -> str:
        """Read CLIENT_ID, which webhook calls to imbot.* must carry."""
        client_id = as_str(params.get("CLIENT_ID"))
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
        bot = self.bots.get(as_int(params.get("BOT_ID")) or 0)
        if bot is None:
            raise BitrixError("BOT_ID_ERROR", "Bot not found")
        return bot

    def _register(self, params: dict[str, Any]) -> Answer:
        """imbot.register: create a bot, or return the one with this CODE (rebinding handlers)."""
        client_id = self._client_id(params)
        code = as_str(params.get("CODE"))
        if not code:
            raise BitrixError("CODE_ERROR", "Bot code is not specified")
        bot_type, openline, urls = _bot_kind(params)
        props = upper_keys(params.get("PROPERTIES"))
        name = _display_name(props)
        if sum(b["CLIENT_ID"] == client_id for b in self.bots.values()) >= MAX_BOTS_PER_APP:
            raise BitrixError("MAX_COUNT_ERROR", "Has reached the maximum number of bots")
        bot = next((b for b in self.bots.values() if b["CODE"] == code), None)
        if bot is None:
            bot = {"ID": next(self._bot_ids), "CODE": code, "NAME": name, "CLIENT_ID": client_id}
            bot.update(PROPERTIES=props, TYPE=bot_type, OPENLINE=openline)
            bot.update(EVENT_HANDLER="", EVENTS={})
            self.bots[bot["ID"]] = bot
        self._bind_events(bot, urls, as_str(params.get("EVENT_HANDLER")))
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
        fields = upper_keys(params.get("FIELDS"))
        if not fields:
            raise BitrixError("WRONG_REQUEST", "Fields are empty")
        if "PROPERTIES" in fields:
            props = {**bot["PROPERTIES"], **upper_keys(fields["PROPERTIES"])}
            bot.update(NAME=_display_name(props), PROPERTIES=props)
        if as_str(fields.get("CODE")):
            bot["CODE"] = as_str(fields["CODE"])
        self._bind_events(
            bot, _event_urls(fields, required=False), as_str(fields.get("EVENT_HANDLER"))
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
        command = as_str(params.get("COMMAND")).strip().lstrip("/")
        if not _COMMAND.fullmatch(command):
            raise BitrixError("COMMAND_ERROR", "Command text can't be empty")
        handler = _check_url("EVENT_COMMAND_ADD", as_str(params.get("EVENT_COMMAND_ADD")))
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
            existing.update({k: php_y(params.get(k)) for k in ("HIDDEN", "COMMON")})
            existing.update(EXTRANET_SUPPORT=php_y(params.get("EXTRANET_SUPPORT")))
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
        command = self.commands.get(as_int(params.get("COMMAND_ID")) or 0)
        if command is None:
            raise BitrixError("COMMAND_ID_ERROR", "Command not found")
        self._check_app(command, params)
        fields = upper_keys(params.get("FIELDS"))
        handler = as_str(fields.get("EVENT_COMMAND_ADD"))
        if handler:
            _check_url("EVENT_COMMAND_ADD", handler)
        changes = {key: fields[key] for key in COMMAND_FIELDS if fields.get(key)}
        if not changes and not handler:
            raise BitrixError("WRONG_REQUEST", "Update fields can't be empty")
        for flag in ("HIDDEN", "EXTRANET_SUPPORT"):
            if flag in changes:
                changes[flag] = php_y(changes[flag])
        command.update(changes)
        if handler:
            self._bind_command_handler(command["CLIENT_ID"], handler)
        return Answer(True)

    def _command_unregister(self, params: dict[str, Any]) -> Answer:
        """imbot.command.unregister: delete a command."""
        command = self.commands.get(as_int(params.get("COMMAND_ID")) or 0)
        if command is None:
            raise BitrixError("COMMAND_ID_ERROR", "Command not found")
        self._check_app(command, params)
        del self.commands[command["ID"]]
        return Answer(True)
