"""imbot.v2 events (`ONIMBOTV2*`, bitrix24-v2.md §5) read into the same typed values as v1's
(`bot.events`): a click is a `RatingClick`, a typed message a `ChatReply`, and so on, so the
rest of the service never knows which API delivered them.

Fetched events (imbot.v2.Event.get) are JSON with real types; webhook bodies are forms built
with `http_build_query`, where every scalar is a string (`"789"`, `"1"`/`"0"`, `""` for null),
or JSON (open point 2): every value is cast here, never trusted to have a type.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from typing import Any

from bot.dialogs import checked_dialog
from bot.events import (
    BotDeleted,
    BotJoined,
    ChatReply,
    Event,
    OtherEvent,
    ParsedEvent,
    RatingClick,
    event_auth,
)
from bot.texts.form import EventFormatError, Tree, parse_form

log = logging.getLogger(__name__)
PRIVATE = "private"


@dataclass(frozen=True)
class FetchedEvent:
    """One event read with imbot.v2.Event.get: its id (the queue's) and what it means."""

    event_id: int
    kind: str
    events: tuple[Event, ...]


def replay_key(bot_id: int, event_id: int) -> str:
    """What a fetched event is remembered by, so that a replay changes nothing."""
    return f"bitrix:v2event:{bot_id}:{event_id}"


def fetched_events(result: Any, bot_id: int) -> tuple[list[FetchedEvent], int | None, bool]:
    """An Event.get result: its events, the offset that acknowledges them, and `hasMore`.

    `nextOffset` replaced `lastEventId` (25.03.2026; the old field lived until 25.09.2026):
    both are read, and without either the offset is the last event's id + 1. An offset past
    what we were given would silently drop events, so it is never more than that.
    """
    if not isinstance(result, dict):
        raise EventFormatError("Event.get answered without events")
    raw = result.get("events")
    read = [_fetched(item, bot_id) for item in (raw if isinstance(raw, list) else [])]
    events = [e for e in read if e is not None]
    last = max((e.event_id for e in events), default=None)
    offset = _int(result.get("nextOffset"))
    if offset is None and _int(result.get("lastEventId")) is not None:
        offset = (_int(result.get("lastEventId")) or 0) + 1
    if last is not None:
        offset = last + 1 if offset is None else min(offset, last + 1)
    return events, offset, _flag(result.get("hasMore"))


def _fetched(item: Any, bot_id: int) -> FetchedEvent | None:
    # The id key is `eventId`, not `id` (§4); an event without one cannot be acknowledged
    # safely and is skipped (it is acknowledged with the others around it).
    if not isinstance(item, dict) or _int(item.get("eventId")) is None:
        return None
    event_id = _int(item.get("eventId")) or 0
    kind = _text(item.get("type")).upper()
    try:
        events = v2_events(kind, _group(item, "data"), replay_key(bot_id, event_id))
    except EventFormatError as exc:
        # One unreadable event must not hold up the queue behind it: it is acknowledged.
        log.warning("bitrix.v2_event_unreadable event_id=%s type=%s: %s", event_id, kind, exc)
        events = (OtherEvent(kind),)
    return FetchedEvent(event_id, kind, events)


def v2_events(kind: str, data: Tree, key: str | None = None) -> tuple[Event, ...]:
    """The typed events one v2 event means."""
    bot, chat, user = _group(data, "bot"), _group(data, "chat"), _group(data, "user")
    bot_id, code = _int(bot.get("id")), _text(bot.get("code"))
    ids = (bot_id,) if bot_id is not None else ()
    dialog = checked_dialog(
        _text(chat.get("dialogId")) or _text(data.get("dialogId")), "data[chat][dialogId]"
    )
    chat_type = _chat_type(chat, _group(data, "message"), dialog)
    # v2 events carry `language` like v1's data[PARAMS][LANGUAGE] (bitrix24.md §13).
    language = _text(data.get("language")).strip().lower()[:8]
    if kind == "ONIMBOTV2COMMANDADD":
        return (replace(_click(data, bot_id, code, dialog, chat_type, key), language=language),)
    if kind == "ONIMBOTV2MESSAGEADD":
        return tuple(
            replace(e, language=language) if isinstance(e, ChatReply) else e
            for e in _reply(data, ids, code, dialog, chat_type)
        )
    if kind == "ONIMBOTV2JOINCHAT":
        joined = BotJoined(ids, (code,), dialog, _int(user.get("id")), chat_type.upper(), language)
        return (joined,)
    if kind == "ONIMBOTV2DELETE":
        return (BotDeleted(bot_id=bot_id, bot_code=code),)
    return (OtherEvent(kind),)


def _chat_type(chat: Tree, message: Tree, dialog: str) -> str:
    """ "P" for a private chat: `chat.type` "private" in the samples, but the entities page lists
    no such type, so also `messageType` "P" or a numeric `dialogId` (bitrix24.md §13)."""
    given = _text(chat.get("type"))
    kind = _text(chat.get("messageType") or message.get("messageType")).upper()
    # A group's dialogId is "chat<N>": a numeric one is a person, so the chat is private.
    if given.lower() in (PRIVATE, "p") or kind == "P" or dialog.isdecimal():
        return "P"
    return given.upper()


def _click(
    data: Tree, bot_id: int | None, code: str, dialog: str, chat_type: str, key: str | None
) -> RatingClick:
    command, message = _group(data, "command"), _group(data, "message")
    user_id = _int(_group(data, "user").get("id"))
    if user_id is None:
        raise EventFormatError("the field data[user][id] must be a number")
    # `message` is taken to be the keyboard's message, as in v1 (open point 5).
    return RatingClick(
        bot_id=bot_id,
        bot_code=code,
        command=_text(command.get("command")).lstrip("/"),
        params=_text(command.get("params")),
        user_id=user_id,
        dialog_id=dialog or str(user_id),
        message_id=_int(message.get("id")),
        chat_type=chat_type.upper(),
        replay_key=key,
        user_name=_text(_group(data, "user").get("name"))[:100],
    )


def _reply(
    data: Tree, ids: tuple[int, ...], code: str, dialog: str, chat_type: str
) -> tuple[Event, ...]:
    message, user = _group(data, "message"), _group(data, "user")
    user_id = _int(user.get("id")) or _int(message.get("authorId"))
    if user_id is None:
        raise EventFormatError("the field data[user][id] must be a number")
    text = _text(message.get("text"))
    # Whether a typed "/rate ..." also raises MESSAGEADD is undocumented (open point 5): a
    # command is the command event's business, never read as a typed score.
    if text.lstrip().startswith("/"):
        return (OtherEvent("ONIMBOTV2MESSAGEADD"),)
    reply = ChatReply(
        bot_ids=ids,
        bot_codes=(code,),
        text=text,
        user_id=user_id,
        dialog_id=dialog,
        message_id=_int(message.get("id")),
        chat_type=chat_type.upper(),
        from_bot=_flag(user.get("bot")),
    )
    return (reply,)


def parse_v2_body(body: bytes, content_type: str) -> ParsedEvent:
    """A webhook-mode body (form, or JSON: open point 2) into its auth block and events."""
    tree = _json(body) if "json" in content_type.lower() else parse_form(body)
    kind = _text(tree.get("event")).upper()
    if not kind:
        raise EventFormatError("the field 'event' is missing")
    # Authenticity is the top-level auth block, never data[bot][auth] (§5).
    auth = _group(tree, "auth")
    return ParsedEvent(
        name=kind,
        auth=event_auth(auth, _text),
        events=v2_events(kind, _group(tree, "data")),
    )


def _json(body: bytes) -> Tree:
    try:
        tree = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise EventFormatError("the body is not JSON") from None
    if not isinstance(tree, dict):
        raise EventFormatError("the body must be a JSON object")
    return tree


def _group(tree: Tree, key: str) -> Tree:
    value = tree.get(key)
    if value in (None, "", []):
        return {}
    if not isinstance(value, dict):
        raise EventFormatError(f"the field {key!r} must be a group of fields")
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    return value.replace("\x00", "") if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    text = _text(value).strip()
    return int(text) if text.isdecimal() and len(text) <= 18 else None


def _flag(value: Any) -> bool:
    return value is True or _text(value).strip().lower() in ("1", "y", "true")
