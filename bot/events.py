"""Bitrix24 bot events: `application/x-www-form-urlencoded` bodies with PHP-style keys
(`data[PARAMS][MESSAGE]=...`), parsed into typed values (reference bitrix24.md §5).

Parsing is bounded (fields, depth, key length) and never trusts what it reads: the caller
decides authenticity from `EventAuth` (its `member_id` names the portal), and no URL or domain
in an event is ever called. Every bot event names the bot it is addressed to (`bot_id` or
`bot_ids`, see `addressed_to`): one handler URL serves all bots of an app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

MAX_FIELDS = 200
MAX_DEPTH = 6
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)\Z")
_PART = re.compile(r"\[([^\[\]]*)\]")

Tree = dict[str, Any]


class EventFormatError(ValueError):
    """The body is not a Bitrix24 event we can read; the message says why."""


@dataclass(frozen=True)
class EventAuth:
    """The `auth[...]` block: who claims to have sent the event."""

    application_token: str
    domain: str
    member_id: str
    # The acting person's OAuth token, when the event carries one (bitrix24.md §5); a secret,
    # kept out of the repr. It proves who typed a reply when our portal accepts it.
    access_token: str = field(default="", repr=False, compare=False)


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


def parse_form(body: bytes) -> Tree:
    """Decode a urlencoded body and unflatten PHP-style keys into nested dicts."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise EventFormatError("the body is not UTF-8 text") from None
    except ValueError:
        raise EventFormatError(f"the body has more than {MAX_FIELDS} fields") from None
    tree: Tree = {}
    for key, value in pairs:
        _place(tree, _split_key(key), value)
    return tree


def _split_key(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        raise EventFormatError(f"malformed field name {key[:60]!r}")
    parts = [match.group(1), *_PART.findall(match.group(2))]
    if len(parts) > MAX_DEPTH:
        raise EventFormatError(f"field {key[:60]!r} is nested deeper than {MAX_DEPTH}")
    return parts


def _place(tree: Tree, parts: list[str], value: str) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise EventFormatError(f"field {part!r} is both a value and a group")
        node = child
    if isinstance(node.get(parts[-1]), dict):
        raise EventFormatError(f"field {parts[-1]!r} is both a value and a group")
    node[parts[-1]] = value


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
        auth=EventAuth(
            application_token=_text(auth.get("application_token")),
            domain=_text(auth.get("domain")),
            member_id=_text(auth.get("member_id")),
            access_token=_text(auth.get("access_token"))[:200],
        ),
        events=_events(name, data),
    )


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
                dialog_id=_text(params.get("DIALOG_ID")),
                user_id=_int_or_none(params.get("USER_ID") or user.get("ID")),
                chat_type=_text(params.get("CHAT_TYPE") or params.get("MESSAGE_TYPE")).upper(),
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
        dialog_id=_text(params.get("DIALOG_ID")),
        message_id=_int_or_none(command.get("MESSAGE_ID") or params.get("MESSAGE_ID")),
        chat_type=_text(params.get("CHAT_TYPE") or params.get("MESSAGE_TYPE")).upper(),
    )


def _reply(
    bot_ids: tuple[int, ...], bot_codes: tuple[str, ...], params: Tree, user: Tree
) -> ChatReply:
    return ChatReply(
        bot_ids=bot_ids,
        bot_codes=bot_codes,
        text=_text(params.get("MESSAGE")),
        user_id=_required_int(user.get("ID") or params.get("FROM_USER_ID"), "data[USER][ID]"),
        dialog_id=_text(params.get("DIALOG_ID")),
        message_id=_int_or_none(params.get("MESSAGE_ID")),
        chat_type=_text(params.get("CHAT_TYPE") or params.get("MESSAGE_TYPE")).upper(),
        from_bot=_text(user.get("IS_BOT")).upper() == "Y",
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
