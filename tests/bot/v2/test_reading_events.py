"""imbot.v2 events read into the values the service already handles, from JSON with real types
and from webhook forms where every value is a string; Event.get's offsets read defensively."""

from __future__ import annotations

from typing import Any

import pytest

from bot.events import BotDeleted, BotJoined, ChatReply, OtherEvent, RatingClick
from bot.texts.form import EventFormatError
from bot.v2.events_v2 import fetched_events, parse_v2_body, v2_events
from bot.v2.vouchers import vouch, vouched_user

BOT = {"id": 456, "code": "okdesk_rating_v2", "type": "bot"}
CHAT = {"id": 5, "dialogId": "27", "type": "private"}
CLICK = {
    "bot": BOT,
    "command": {"id": 78, "command": "/rate", "params": "tok:4", "context": "keyboard"},
    "message": {"id": 790, "authorId": 456, "text": "Rate"},
    "chat": CHAT,
    "user": {"id": 27, "bot": False},
}
# The same click as http_build_query sends it: every scalar a string.
STRINGS = {
    "bot": {"id": "456", "code": "okdesk_rating_v2"},
    "command": {"id": "78", "command": "/rate", "params": "tok:4", "context": "keyboard"},
    "message": {"id": "790", "authorId": "456", "text": "Rate"},
    "chat": {"id": "5", "dialogId": "27", "type": "private"},
    "user": {"id": "27", "bot": "0"},
}


@pytest.mark.parametrize("data", [CLICK, STRINGS])
def test_a_click_is_a_rating_click_whatever_the_types(data: dict[str, Any]) -> None:
    (click,) = v2_events("ONIMBOTV2COMMANDADD", data, "k")
    assert click == RatingClick(
        bot_id=456,
        bot_code="okdesk_rating_v2",
        command="rate",
        params="tok:4",
        user_id=27,
        dialog_id="27",
        message_id=790,
        chat_type="P",
        replay_key="k",
    )
    assert click.button == ("tok", 4)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            "ONIMBOTV2MESSAGEADD",
            {
                "bot": BOT,
                "message": {"id": "791", "text": "4"},
                "chat": CHAT,
                "user": {"id": "27", "bot": "1"},
            },
            ChatReply((456,), ("okdesk_rating_v2",), "4", 27, "27", 791, "P", True),
        ),
        (
            "ONIMBOTV2MESSAGEADD",
            {
                "bot": BOT,
                "message": {"id": 792, "text": "/rate 4"},
                "chat": CHAT,
                "user": {"id": 27},
            },
            OtherEvent("ONIMBOTV2MESSAGEADD"),
        ),
        (
            "ONIMBOTV2JOINCHAT",
            {"bot": BOT, "dialogId": "chat5", "chat": {"id": 5, "type": "chat"}, "user": {"id": 1}},
            BotJoined((456,), ("okdesk_rating_v2",), "chat5", 1, "CHAT"),
        ),
        ("ONIMBOTV2DELETE", {"bot": BOT}, BotDeleted(456, "okdesk_rating_v2")),
        ("ONIMBOTV2REACTIONCHANGE", {"bot": BOT}, OtherEvent("ONIMBOTV2REACTIONCHANGE")),
    ],
)
def test_each_kind_becomes_what_v1_would_give(
    kind: str, data: dict[str, Any], expected: object
) -> None:
    assert v2_events(kind, data) == (expected,)


@pytest.mark.parametrize(
    ("result", "offset", "more"),
    [
        (
            {"events": [{"eventId": 1001}, {"eventId": 1002}], "nextOffset": 1003, "hasMore": True},
            1003,
            True,
        ),
        # The old field, until 25.09.2026.
        ({"events": [{"eventId": 1001}], "lastEventId": 1001, "hasMore": False}, 1002, False),
        # Neither field: the last id + 1.
        ({"events": [{"eventId": "1001"}], "hasMore": "0"}, 1002, False),
        # An offset past what was received would silently drop events: never sent.
        ({"events": [{"eventId": 1001}], "nextOffset": 5000, "hasMore": False}, 1002, False),
        ({"events": [], "nextOffset": 1003, "hasMore": False}, 1003, False),
    ],
)
def test_the_offset_never_acknowledges_more_than_was_received(
    result: dict[str, Any], offset: int, more: bool
) -> None:
    events, next_offset, has_more = fetched_events(result, 456)
    assert (next_offset, has_more) == (offset, more)
    assert all(e.events == (OtherEvent(""),) for e in events)


def test_an_unreadable_event_is_acknowledged_with_the_rest() -> None:
    result = {
        "events": [{"eventId": 7, "type": "ONIMBOTV2COMMANDADD", "data": {"bot": BOT}}, {"id": 8}]
    }
    events, offset, _more = fetched_events(result, 456)
    assert [(e.event_id, e.events) for e in events] == [(7, (OtherEvent("ONIMBOTV2COMMANDADD"),))]
    assert offset == 8


def test_a_webhook_body_is_read_from_a_form_or_json() -> None:
    form = (
        b"event=ONIMBOTV2COMMANDADD&data%5Bbot%5D%5Bid%5D=456&data%5Bcommand%5D%5Bparams%5D=t%3A2"
    )
    form += b"&data%5Buser%5D%5Bid%5D=27&auth%5Bapplication_token%5D=customX&auth%5Bdomain%5D=a.b"
    parsed = parse_v2_body(form, "application/x-www-form-urlencoded")
    assert parsed.auth.application_token == "customX" and parsed.auth.domain == "a.b"
    (click,) = parsed.events
    assert isinstance(click, RatingClick) and click.params == "t:2" and click.dialog_id == "27"
    as_json = b'{"event":"ONIMBOTV2DELETE","data":{"bot":{"id":456}},"auth":{"domain":"a.b"}}'
    assert parse_v2_body(as_json, "application/json").events == (BotDeleted(456, ""),)
    with pytest.raises(EventFormatError):
        parse_v2_body(b"[1]", "application/json")


def test_a_voucher_names_its_user_and_cannot_be_forged() -> None:
    made = vouch("bot-secret", 27)
    assert vouched_user("bot-secret", made) == 27
    assert vouched_user("another-secret", made) is None
    assert vouched_user("bot-secret", made.replace("27:", "28:")) is None
    assert vouched_user("bot-secret", "c3d4e5f6000018d6") is None


@pytest.mark.parametrize(
    ("chat", "message", "private"),
    [
        ({"dialogId": "27", "type": "private"}, {}, True),
        # The entities page lists no "private" type (bitrix24.md §13): the other signs.
        ({"dialogId": "chat5", "type": "", "messageType": "P"}, {}, True),
        ({"dialogId": "chat5"}, {"messageType": "P"}, True),
        ({"dialogId": "27", "type": "user"}, {}, True),
        ({"dialogId": "chat5", "type": "chat"}, {"messageType": "C"}, False),
        ({"dialogId": "chat5", "type": "open"}, {}, False),
    ],
)
def test_a_private_chat_is_known_by_its_type_its_message_type_or_a_numeric_dialog(
    chat: dict[str, Any], message: dict[str, Any], private: bool
) -> None:
    data = {"bot": BOT, "chat": chat, "user": {"id": 27}, "language": "en"}
    data["message"] = {"id": 791, "authorId": 27, "text": "4", **message}
    (reply,) = v2_events("ONIMBOTV2MESSAGEADD", data)
    assert isinstance(reply, ChatReply)
    assert reply.private is private


def test_v2_events_carry_the_persons_language() -> None:
    click = {"bot": BOT, "chat": CHAT, "user": {"id": 27}, "language": "en"}
    click["command"] = {"id": 78, "command": "/rate", "params": "t:4", "context": "keyboard"}
    reply = {"bot": BOT, "chat": CHAT, "user": {"id": 27}, "language": "EN"}
    reply["message"] = {"id": 791, "authorId": 27, "text": "4"}
    join = {"bot": BOT, "dialogId": "27", "chat": CHAT, "user": {"id": 27}, "language": "ru"}
    read = [
        v2_events("ONIMBOTV2COMMANDADD", click)[0],
        v2_events("ONIMBOTV2MESSAGEADD", reply)[0],
        v2_events("ONIMBOTV2JOINCHAT", join)[0],
    ]
    assert [getattr(event, "language", None) for event in read] == ["en", "en", "ru"]
