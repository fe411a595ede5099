"""Bitrix24 bot events, parsed into typed values (reference bitrix24.md §5).

The body is decoded by `bot.texts.form` (bounded) and never trusted: `bot.origin` checks that the
`auth[...]` block names our portal, the caller pins the installation (`member_id`), and no URL
or domain in an event is ever called. Every bot event names the bot it is addressed to
(`bot_id` or `bot_ids`, see `addressed_to`): one handler URL serves all bots of an app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.dialogs import checked_dialog
from bot.texts.buttons import ChangePress, parse_change_params
from bot.texts.form import EventFormatError, Tree, parse_form
from bot.texts.messages import RATE_COMMAND, parse_command_params

# `CHAT_TYPE` (or `MESSAGE_TYPE`) of a one-to-one dialog with the bot (bitrix24.md §5).
PRIVATE_CHAT = "P"


@dataclass(frozen=True)
class EventAuth:
    """The `auth[...]` block: who claims to have sent the event."""

    application_token: str
    domain: str
    member_id: str
    # The acting person's OAuth token, when the event carries one (bitrix24.md §5); a secret,
    # kept out of the repr. It proves who typed a reply when our portal accepts it.
    access_token: str = field(default="", repr=False, compare=False)
    # The names of the `auth[...]` keys the event carried (what a live portal sends, §12).
    keys: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class RatingClick:
    """A click on a keyboard button, or a typed command (ONIMCOMMANDADD).

    `bot_id` is the bot owning the command (`data[COMMAND][<id>][BOT_ID]`).
    """

    bot_id: int | None
    bot_code: str
    command: str
    params: str
    user_id: int
    dialog_id: str
    message_id: int | None
    chat_type: str
    language: str = ""  # `data[PARAMS][LANGUAGE]` (bitrix24.md §5), "" when absent
    # What identifies this very click if it is delivered again (an imbot.v2 eventId); None
    # when the transport has no id for it (v1: a replayed click changes nothing anyway).
    replay_key: str | None = None
    user_name: str = ""  # who clicked, as the event names them (`data[USER][NAME]`)

    @property
    def button(self) -> tuple[str, int] | None:
        """The (survey token, score) of one of our rating buttons, or None for anything else."""
        return parse_command_params(self.params) if self.command == RATE_COMMAND else None

    @property
    def change_request(self) -> ChangePress | None:
        """An «Изменить оценку» press, or None for anything else."""
        return parse_change_params(self.params) if self.command == RATE_COMMAND else None


@dataclass(frozen=True)
class ChatReply:
    """A message a person wrote to the bot (ONIMBOTMESSAGEADD).

    `bot_ids` are the app's bots the message is delivered to (the keys of `data[BOT]`).
    """

    bot_ids: tuple[int, ...]
    bot_codes: tuple[str, ...]
    text: str
    user_id: int
    dialog_id: str
    message_id: int | None
    chat_type: str
    from_bot: bool
    language: str = ""

    @property
    def private(self) -> bool:
        """Whether it was written in a one-to-one dialog with the bot (not a group chat)."""
        return self.chat_type == PRIVATE_CHAT

    @property
    def replay_key(self) -> str | None:
        """What identifies this message if Bitrix24 delivers it again."""
        return None if self.message_id is None else f"bitrix:message:{self.message_id}"


@dataclass(frozen=True)
class BotJoined:
    """The bot was added to a chat, or a person opened a dialog with it (ONIMBOTJOINCHAT).

    `bot_ids` are the app's bots that joined (the keys of `data[BOT]`).
    """

    bot_ids: tuple[int, ...]
    bot_codes: tuple[str, ...]
    dialog_id: str
    user_id: int | None
    chat_type: str
    language: str = ""

    @property
    def private(self) -> bool:
        """Whether the bot joined a one-to-one dialog (a person opened it), not a group chat."""
        return self.chat_type == PRIVATE_CHAT


@dataclass(frozen=True)
class BotDeleted:
    """The bot was removed from the portal (ONIMBOTDELETE); `bot_id` is `data[BOT_ID]`."""

    bot_id: int | None
    bot_code: str = ""


@dataclass(frozen=True)
class OtherEvent:
    """An event this service does not act on."""

    name: str


Event = RatingClick | ChatReply | BotJoined | BotDeleted | OtherEvent


def addressed_to(event: Event, bot_id: int | None, bot_code: str) -> bool:
    """Whether the event is for our bot: by its id when we know it, else by its code.

    An event for another bot (or for none) is not ours.
    """
    ids: tuple[int | None, ...]
    codes: tuple[str, ...]
    if isinstance(event, RatingClick | BotDeleted):
        ids, codes = (event.bot_id,), (event.bot_code,)
    elif isinstance(event, ChatReply | BotJoined):
        ids, codes = event.bot_ids, event.bot_codes
    else:
        return False
    return bot_id in ids if bot_id is not None else bot_code in codes


@dataclass(frozen=True)
class ParsedEvent:
    """An event body: who sent it and what happened (several commands may share one body)."""

    name: str
    auth: EventAuth
    events: tuple[Event, ...]


def parse_event(body: bytes) -> ParsedEvent:
    """Read an event body into its auth block and typed events."""
    tree = parse_form(body)
    name = _text(tree.get("event")).upper()
    if not name:
        raise EventFormatError("the field 'event' is missing")
    auth = _group(tree, "auth")
    data = _group(tree, "data")
    return ParsedEvent(
        name=name,
        auth=event_auth(auth),
        events=_events(name, data),
    )


def event_auth(auth: Tree, text: Callable[[Any], str] | None = None) -> EventAuth:
    """An event's `auth` block, each value as `text` reads it (a form's strings by default)."""
    fields = ("application_token", "domain", "member_id", "access_token")
    values = {key: (text or _text)(auth.get(key)) for key in fields}
    values["access_token"] = values["access_token"][:200]
    return EventAuth(**values, keys=auth_keys(auth))


def auth_keys(auth: Tree) -> tuple[str, ...]:
    """The names of an `auth` block's keys, sorted and bounded (never their values)."""
    return tuple(sorted(str(key)[:32] for key in auth))[:20]


def _events(name: str, data: Tree) -> tuple[Event, ...]:
    params = _group(data, "PARAMS")
    user = _group(data, "USER")
    if name == "ONIMCOMMANDADD":
        # The key under data[COMMAND] is the command's id, not 0 (bitrix24.md §5).
        commands = _group(data, "COMMAND")
        return tuple(_click(_as_group(c), params, user) for c in commands.values())
    if name == "ONIMBOTMESSAGEADD":
        return (_reply(_bot_ids(data), _bot_codes(data), params, user),)
    if name == "ONIMBOTJOINCHAT":
        return (
            BotJoined(
                bot_ids=_bot_ids(data),
                bot_codes=_bot_codes(data),
                dialog_id=_dialog(params),
                user_id=_int_or_none(params.get("USER_ID") or user.get("ID")),
                chat_type=_text(params.get("CHAT_TYPE") or params.get("MESSAGE_TYPE")).upper(),
                language=_language(params),
            ),
        )
    if name == "ONIMBOTDELETE":
        return (
            BotDeleted(
                bot_id=_int_or_none(data.get("BOT_ID")), bot_code=_text(data.get("BOT_CODE"))
            ),
        )
    return (OtherEvent(name),)


def _click(command: Tree, params: Tree, user: Tree) -> RatingClick:
    # Who clicked is data[USER][ID]; for keyboard clicks the exact PARAMS are undocumented
    # (bitrix24.md §5), so PARAMS only supply the dialog.
    return RatingClick(
        bot_id=_int_or_none(command.get("BOT_ID")),
        bot_code=_text(command.get("BOT_CODE")),
        command=_text(command.get("COMMAND")).lstrip("/"),
        params=_text(command.get("COMMAND_PARAMS")),
        user_id=_required_int(user.get("ID"), "data[USER][ID]"),
        dialog_id=_dialog(params),
        message_id=_int_or_none(command.get("MESSAGE_ID") or params.get("MESSAGE_ID")),
        chat_type=_text(params.get("CHAT_TYPE") or params.get("MESSAGE_TYPE")).upper(),
        language=_language(params),
        user_name=_text(user.get("NAME"))[:100],
    )


def _dialog(params: Tree) -> str:
    return checked_dialog(_text(params.get("DIALOG_ID")), "data[PARAMS][DIALOG_ID]")


def _language(params: Tree) -> str:
    return _text(params.get("LANGUAGE")).strip().lower()[:8]


def _reply(
    bot_ids: tuple[int, ...], bot_codes: tuple[str, ...], params: Tree, user: Tree
) -> ChatReply:
    return ChatReply(
        bot_ids=bot_ids,
        bot_codes=bot_codes,
        text=_text(params.get("MESSAGE")),
        user_id=_required_int(user.get("ID") or params.get("FROM_USER_ID"), "data[USER][ID]"),
        dialog_id=_dialog(params),
        message_id=_int_or_none(params.get("MESSAGE_ID")),
        chat_type=_text(params.get("CHAT_TYPE") or params.get("MESSAGE_TYPE")).upper(),
        from_bot=_text(user.get("IS_BOT")).upper() == "Y",
        language=_language(params),
    )


def _bot_ids(data: Tree) -> tuple[int, ...]:
    """The bots under `data[BOT][<id>]`: each block's BOT_ID, or else its key."""
    ids: list[int] = []
    for key, block in _group(data, "BOT").items():
        inner = block.get("BOT_ID") if isinstance(block, dict) else None
        number = _int_or_none(inner) if inner is not None else _int_or_none(key)
        if number is not None and number not in ids:
            ids.append(number)
    return tuple(ids)


def _bot_codes(data: Tree) -> tuple[str, ...]:
    """The BOT_CODE of each block under `data[BOT][<id>]`."""
    blocks = _group(data, "BOT").values()
    return tuple(_text(b.get("BOT_CODE")) for b in blocks if isinstance(b, dict))


def _group(tree: Tree, key: str) -> Tree:
    return _as_group(tree.get(key, {}), key)


def _as_group(value: Any, key: str = "data[COMMAND][...]") -> Tree:
    if not isinstance(value, dict):
        raise EventFormatError(f"the field {key!r} must be a group of fields")
    return value


def _text(value: Any) -> str:
    # PostgreSQL refuses NUL in text, and no field of a Bitrix24 event needs one.
    return value.replace("\x00", "") if isinstance(value, str) else ""


def _int_or_none(value: Any) -> int | None:
    text = _text(value).strip()
    return int(text) if text.isdecimal() and len(text) <= 18 else None


def _required_int(value: Any, name: str) -> int:
    number = _int_or_none(value)
    if number is None:
        raise EventFormatError(f"the field {name} must be a number")
    return number
