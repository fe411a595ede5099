"""The v2 event queue of a portal: events kept per bot until acknowledged by offset, dropped
after 24 hours acknowledged or not (bitrix24-v2.md §4), and the fetch-mode payloads."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

RETENTION_SECONDS = 24 * 3600


def iso(moment: float) -> str:
    """A Bitrix24 date: ISO 8601 with the portal's offset (here UTC, written +00:00)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


class EventQueue:
    """Every bot's unacknowledged events, with one id sequence for the portal (SRV EventLog)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1001)
        self.expired = 0

    def add(self, bot_id: int, kind: str, data: dict[str, Any], now: float) -> int:
        """Queue one event for a bot; its id."""
        event_id = next(self._ids)
        record = {"eventId": event_id, "type": kind, "date": iso(now), "data": data}
        self.events.append({"bot_id": bot_id, "at": now, "event": record})
        return event_id

    def expire(self, now: float) -> None:
        """Drop what is older than the retention, acknowledged or not."""
        kept = [e for e in self.events if now - e["at"] < RETENTION_SECONDS]
        self.expired += len(self.events) - len(kept)
        self.events = kept

    def read(self, bot_id: int, offset: int | None, limit: int) -> dict[str, Any]:
        """Acknowledge (delete) the bot's events below `offset`, then answer those from it on.

        SRV: `nextOffset` = last id + 1, or the offset sent (0 if none) when nothing is left;
        `hasMore` = a full page. A too-large offset silently drops events (the reference)."""
        if offset is not None:
            self.events = [
                e for e in self.events if e["bot_id"] != bot_id or e["event"]["eventId"] >= offset
            ]
        mine = [e["event"] for e in self.events if e["bot_id"] == bot_id]
        page = mine[:limit]
        next_offset = page[-1]["eventId"] + 1 if page else (offset or 0)
        return {"events": page, "nextOffset": next_offset, "hasMore": len(page) >= limit}

    def pending(self, bot_id: int | None = None) -> int:
        """How many events wait (for one bot, or all)."""
        return sum(1 for e in self.events if bot_id is None or e["bot_id"] == bot_id)


def bot_object(bot: dict[str, Any]) -> dict[str, Any]:
    """The full Bot object fetch-mode events and the owner's answers carry (§1, §5)."""
    return {
        "id": bot["ID"],
        "code": bot["CODE"],
        "type": bot.get("V2_TYPE", "bot"),
        "isHidden": bot.get("IS_HIDDEN", False),
        "isSupportOpenline": False,
        "isReactionsEnabled": True,
        "backgroundId": None,
        "language": "en",
        "moduleId": "rest",
        "eventMode": bot.get("EVENT_MODE", "fetch"),
        "countMessage": 0,
        "countCommand": 1,
        "countChat": 1,
        "countUser": 1,
    }


def user_object(user: dict[str, Any], user_id: int) -> dict[str, Any]:
    """A person as events describe them."""
    first, last = str(user.get("NAME", "")), str(user.get("LAST_NAME", ""))
    return {
        "id": user_id,
        "active": True,
        "name": f"{first} {last}".strip(),
        "firstName": first,
        "lastName": last,
        "gender": "M",
        "extranet": str(user.get("USER_TYPE", "")).lower() == "extranet",
        "bot": False,
        "connector": False,
        "externalAuthId": "default",
        "status": "online",
        "idle": False,
        "absent": False,
        "departments": [1],
        "phones": False,
        "type": "employee",
    }


def private_chat(user_id: int, chat_id: int) -> dict[str, Any]:
    """The person's one-to-one chat with the bot; `dialogId` is the counterpart (the person)."""
    return {
        "id": chat_id,
        "dialogId": str(user_id),
        "type": "private",
        "name": "",
        "entityType": "",
        "owner": user_id,
        "avatar": "",
        "color": "#ab7761",
    }


def message_object(
    message_id: int, author_id: int, text: str, chat_id: int, now: float
) -> dict[str, Any]:
    """A message as events describe it."""
    return {
        "id": message_id,
        "chatId": chat_id,
        "authorId": author_id,
        "date": iso(now),
        "text": text,
        "isSystem": False,
        "uuid": "",
        "forward": None,
        "params": [],  # PHP's empty array (bitrix24.md §13)
        "viewedByOthers": False,
    }
