"""Vendor payloads from harness/fixtures, as they are or with the fields a test changes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from harness.constants import CONTACT_ID, FIXTURES, ISSUE_ID, USER_ID


def fixture_json(name: str) -> Any:
    """A vendor payload from harness/fixtures."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    """A raw vendor body from harness/fixtures."""
    return (FIXTURES / name).read_bytes().strip()


# The account's time zone in the captured payloads (okdesk.md §2).
ACCOUNT_ZONE = timezone(timedelta(hours=7))
# Who the fixtures' ticket is assigned to, in REST's `assignee{id,name}` (okdesk.md §5); the
# webhook fixture names the same employee as first_name/patronymic/last_name.
ASSIGNEE = {"id": 52, "name": "Алексей Сергеевич Карпенко"}


def okdesk_time(moment: datetime) -> str:
    """A time as Okdesk writes it: milliseconds and the account's offset."""
    return moment.astimezone(ACCOUNT_ZONE).isoformat(timespec="milliseconds")


def rest_issue(
    issue_id: int, status: str = "closed", completed_at: datetime | None = None
) -> dict[str, Any]:
    """A ticket as Okdesk's REST API shows it (okdesk.md §5), completed an hour ago unless
    told: a ticket completed longer than RECONCILE_MAX_AGE before its survey is not asked."""
    completed = completed_at or datetime.now(UTC) - timedelta(hours=1)
    return {
        "id": issue_id,
        "title": "Касса не печатает чек",
        "status": {"code": status, "name": "Закрыта"},
        "rate": None,
        "completed_at": okdesk_time(completed),
        "contact": {"id": CONTACT_ID, "name": "Петров Иван"},
        "assignee": dict(ASSIGNEE),
    }


def closed_webhook(issue_id: int = ISSUE_ID, **changes: Any) -> dict[str, Any]:
    """The real closure webhook, with optional changes to the issue."""
    payload: dict[str, Any] = fixture_json("okdesk/webhook_issue_closed.json")
    payload["issue"]["id"] = issue_id
    payload["issue"].update(changes)
    return payload


def event_body(name: str, **fields: str) -> bytes:
    """A fixture event body with some fields replaced (keys as Bitrix24 writes them)."""
    pairs = parse_qsl(fixture_bytes(f"bitrix24/{name}.form").decode(), keep_blank_values=True)
    replaced = [(key, fields.pop(key, value)) for key, value in pairs]
    replaced.extend(fields.items())
    return urlencode(replaced).encode()


# A bot registered over an incoming webhook with CLIENT_ID (ours) gets events with no token
# (bitrix24.md §12): the default. `tokens=True` is the other reading, an OAuth application's
# events with the person's access token (§5).
WEBHOOK_BOT = {"click": "ONIMCOMMANDADD_webhook_bot", "reply": "ONIMBOTMESSAGEADD_webhook_bot"}
WITH_TOKENS = {"click": "ONIMCOMMANDADD_keyboard_click", "reply": "ONIMBOTMESSAGEADD_text_reply"}


def click_body(params: str, user_id: int = USER_ID, *, tokens: bool = False) -> bytes:
    """A keyboard click on a rating button."""
    return event_body(
        (WITH_TOKENS if tokens else WEBHOOK_BOT)["click"],
        **{
            "data[COMMAND][103][COMMAND_PARAMS]": params,
            "data[USER][ID]": str(user_id),
            "data[PARAMS][DIALOG_ID]": str(user_id),
            "data[PARAMS][FROM_USER_ID]": str(user_id),
            **({"auth[user_id]": str(user_id)} if tokens else {}),
        },
    )


def reply_body(message: str, message_id: int = 84331, **fields: str) -> bytes:
    """A message typed to the bot in the private chat, as a webhook bot gets it (no token)."""
    return _reply(WEBHOOK_BOT["reply"], message, message_id, fields)


def oauth_reply_body(message: str, message_id: int = 84331, **fields: str) -> bytes:
    """The same message as an OAuth application's bot gets it: with the person's token."""
    return _reply(WITH_TOKENS["reply"], message, message_id, fields)


def _reply(fixture: str, message: str, message_id: int, fields: dict[str, str]) -> bytes:
    return event_body(
        fixture,
        **{"data[PARAMS][MESSAGE]": message, "data[PARAMS][MESSAGE_ID]": str(message_id), **fields},
    )
