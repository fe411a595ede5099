"""Bitrix24 event bodies (bitrix24.md §5): PHP-style form keys into typed events: clicks,
replies, bots and auth."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from bot.events import (
    BotDeleted,
    BotJoined,
    ChatReply,
    Event,
    EventAuth,
    OtherEvent,
    ParsedEvent,
    RatingClick,
    addressed_to,
    parse_event,
)
from bot.texts.form import EventFormatError, parse_form
from harness.payloads import event_body, fixture_bytes

CLICK = "ONIMCOMMANDADD_keyboard_click"
REPLY = "ONIMBOTMESSAGEADD_text_reply"
JOIN = "ONIMBOTJOINCHAT_private"
DELETE = "ONIMBOTDELETE"

ACME_AUTH = EventAuth(
    application_token="rating-bot-acme",
    domain="acme.bitrix24.ru",
    member_id="bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61",
)


def _fixture(name: str) -> bytes:
    return fixture_bytes(f"bitrix24/{name}.form")


def _for_bot(fixture: str, bot_id: int) -> bytes:
    """The fixture as Bitrix24 would send it for another bot of the same app."""
    text = _fixture(fixture).decode()
    text = text.replace("%5BBOT%5D%5B567%5D", f"%5BBOT%5D%5B{bot_id}%5D")
    return text.replace("%5BBOT_ID%5D=567", f"%5BBOT_ID%5D={bot_id}").encode()


def _only(parsed: ParsedEvent) -> Event:
    assert len(parsed.events) == 1, parsed.events
    return parsed.events[0]


# --- the real fixtures -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "name", "expected"),
    [
        (
            CLICK,
            "ONIMCOMMANDADD",
            RatingClick(
                bot_id=567,
                bot_code="okdesk_rating",
                command="rate",
                params="s7Kq2m:4",
                user_id=27,
                dialog_id="27",
                message_id=84400,
                chat_type="P",
                language="ru",
                user_name="Светлана Иванова",
            ),
        ),
        (
            REPLY,
            "ONIMBOTMESSAGEADD",
            ChatReply(
                bot_ids=(567,),
                bot_codes=("okdesk_rating",),
                text="4 - быстро и вежливо",
                user_id=27,
                dialog_id="27",
                message_id=84331,
                chat_type="P",
                from_bot=False,
                language="ru",
            ),
        ),
        (
            JOIN,
            "ONIMBOTJOINCHAT",
            BotJoined(
                bot_ids=(567,),
                bot_codes=("okdesk_rating",),
                dialog_id="27",
                user_id=27,
                chat_type="P",
                language="ru",
            ),
        ),
        (DELETE, "ONIMBOTDELETE", BotDeleted(bot_id=567, bot_code="okdesk_rating")),
    ],
)
def test_each_fixture_parses_to_its_typed_event_and_auth(
    fixture: str, name: str, expected: Event
) -> None:
    parsed = parse_event(_fixture(fixture))

    assert parsed == ParsedEvent(name=name, auth=ACME_AUTH, events=(expected,))


def test_form_keys_unflatten_into_nested_groups() -> None:
    tree = parse_form(_fixture(CLICK))

    assert tree["event"] == "ONIMCOMMANDADD"
    assert tree["data"]["COMMAND"]["103"]["COMMAND_PARAMS"] == "s7Kq2m:4"
    assert tree["data"]["COMMAND"]["103"]["AUTH"]["user_id"] == "567"
    assert tree["auth"]["application_token"] == "rating-bot-acme"
    assert tree["data"]["USER"]["NAME"] == "Светлана Иванова"


# --- clicks ----------------------------------------------------------------------------------


def test_command_id_key_is_iterated_not_assumed_zero() -> None:
    # The fixture's only command sits under data[COMMAND][103], and nothing under [0].
    assert "0" not in parse_form(_fixture(CLICK))["data"]["COMMAND"]

    click = _only(parse_event(_fixture(CLICK)))

    assert isinstance(click, RatingClick)
    assert (click.command, click.params) == ("rate", "s7Kq2m:4")


def test_two_commands_in_one_body_yield_two_clicks_in_order() -> None:
    body = event_body(
        CLICK,
        **{
            "data[COMMAND][2048][COMMAND]": "rate",
            "data[COMMAND][2048][COMMAND_PARAMS]": "Zz9-_x:1",
            "data[COMMAND][2048][MESSAGE_ID]": "84401",
        },
    )

    parsed = parse_event(body)

    clicks = [e for e in parsed.events if isinstance(e, RatingClick)]
    assert len(clicks) == len(parsed.events)
    assert [(c.command, c.params, c.message_id, c.user_id) for c in clicks] == [
        ("rate", "s7Kq2m:4", 84400, 27),
        ("rate", "Zz9-_x:1", 84401, 27),
    ]


def test_a_click_body_without_commands_yields_no_clicks() -> None:
    body = b"event=ONIMCOMMANDADD&data[USER][ID]=27&auth[application_token]=rating-bot-acme"

    assert parse_event(body).events == ()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("/rate", "rate"),
        ("rate", "rate"),
        ("//rate", "rate"),
        ("/echo", "echo"),
    ],
)
def test_leading_slash_of_a_command_is_stripped(typed: str, expected: str) -> None:
    body = event_body(CLICK, **{"data[COMMAND][103][COMMAND]": typed})

    click = _only(parse_event(body))

    assert isinstance(click, RatingClick)
    assert click.command == expected


def test_click_message_id_falls_back_to_params_when_the_command_has_none() -> None:
    pairs = [
        ("event", "ONIMCOMMANDADD"),
        ("data[COMMAND][7][COMMAND]", "rate"),
        ("data[COMMAND][7][COMMAND_PARAMS]", "tok:5"),
        ("data[PARAMS][DIALOG_ID]", "27"),
        ("data[PARAMS][MESSAGE_ID]", "99001"),
        ("data[PARAMS][MESSAGE_TYPE]", "p"),
        ("data[USER][ID]", "27"),
    ]

    click = _only(parse_event(urlencode(pairs).encode()))

    assert click == RatingClick(
        bot_id=None,
        bot_code="",
        command="rate",
        params="tok:5",
        user_id=27,
        dialog_id="27",
        message_id=99001,
        chat_type="P",
    )


@pytest.mark.parametrize("user_id", ["abc", "", "-27", "27.0", "0x1b", "2 7", "9" * 19])
def test_non_numeric_clicking_user_is_a_format_error(user_id: str) -> None:
    body = event_body(CLICK, **{"data[USER][ID]": user_id})

    with pytest.raises(EventFormatError, match=r"data\[USER\]\[ID\]"):
        parse_event(body)


def test_click_without_a_user_is_a_format_error() -> None:
    pairs = [("event", "ONIMCOMMANDADD"), ("data[COMMAND][103][COMMAND]", "rate")]

    with pytest.raises(EventFormatError, match=r"data\[USER\]\[ID\]"):
        parse_event(urlencode(pairs).encode())


@pytest.mark.parametrize("user_id", [" 27 ", "027"])
def test_padded_user_id_is_read_as_the_number(user_id: str) -> None:
    click = _only(parse_event(event_body(CLICK, **{"data[USER][ID]": user_id})))

    assert isinstance(click, RatingClick)
    assert click.user_id == 27


def test_a_command_that_is_a_plain_value_not_a_group_is_a_format_error() -> None:
    body = b"event=ONIMCOMMANDADD&data[COMMAND][103]=rate&data[USER][ID]=27"

    with pytest.raises(EventFormatError, match="group"):
        parse_event(body)


# --- chat types and replies ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "fields"),
    [
        (CLICK, {"data[PARAMS][CHAT_TYPE]": "C", "data[PARAMS][MESSAGE_TYPE]": "C"}),
        (REPLY, {"data[PARAMS][CHAT_TYPE]": "C", "data[PARAMS][MESSAGE_TYPE]": "C"}),
        (JOIN, {"data[PARAMS][CHAT_TYPE]": "C", "data[PARAMS][MESSAGE_TYPE]": "C"}),
        # Lower case, and MESSAGE_TYPE alone when CHAT_TYPE is empty.
        (REPLY, {"data[PARAMS][CHAT_TYPE]": "", "data[PARAMS][MESSAGE_TYPE]": "c"}),
    ],
)
def test_group_chat_is_reported_with_its_chat_dialog(fixture: str, fields: dict[str, str]) -> None:
    body = event_body(fixture, **{"data[PARAMS][DIALOG_ID]": "chat1157", **fields})

    event = _only(parse_event(body))

    assert isinstance(event, RatingClick | ChatReply | BotJoined)
    assert (event.chat_type, event.dialog_id) == ("C", "chat1157")


@pytest.mark.parametrize(
    ("flag", "from_bot"), [("Y", True), ("y", True), ("N", False), ("", False)]
)
def test_reply_says_whether_a_bot_wrote_it(flag: str, from_bot: bool) -> None:
    reply = _only(parse_event(event_body(REPLY, **{"data[USER][IS_BOT]": flag})))

    assert isinstance(reply, ChatReply)
    assert reply.from_bot is from_bot


def test_reply_without_user_block_takes_the_author_from_params() -> None:
    pairs = [
        ("event", "ONIMBOTMESSAGEADD"),
        ("data[PARAMS][MESSAGE]", "5 [b]спасибо[/b]"),
        ("data[PARAMS][FROM_USER_ID]", "31"),
        ("data[PARAMS][DIALOG_ID]", "31"),
        ("data[PARAMS][MESSAGE_ID]", "not-a-number"),
        ("data[PARAMS][CHAT_TYPE]", "P"),
    ]

    reply = _only(parse_event(urlencode(pairs).encode()))

    assert reply == ChatReply(
        bot_ids=(),
        bot_codes=(),
        text="5 [b]спасибо[/b]",
        user_id=31,
        dialog_id="31",
        message_id=None,
        chat_type="P",
        from_bot=False,
    )


def test_bot_deleted_without_a_bot_id_has_none() -> None:
    assert _only(parse_event(b"event=ONIMBOTDELETE")) == BotDeleted(bot_id=None)


# --- which bot and which portal an event is for ----------------------------------------------


@pytest.mark.parametrize("fixture", [CLICK, REPLY, JOIN, DELETE])
def test_each_bot_event_names_the_bot_it_is_addressed_to(fixture: str) -> None:
    for_us = _only(parse_event(_fixture(fixture)))
    for_another = _only(parse_event(_for_bot(fixture, 39)))

    assert addressed_to(for_us, 567, "okdesk_rating")
    assert not addressed_to(for_another, 567, "okdesk_rating")
    assert addressed_to(for_another, 39, "okdesk_rating")
    # While the bot's id is not known yet, its code decides.
    assert addressed_to(for_us, None, "okdesk_rating")
    assert not addressed_to(for_us, None, "another_bot")


def test_bot_block_without_bot_id_field_is_named_by_its_key() -> None:
    pairs = [
        ("event", "ONIMBOTMESSAGEADD"),
        ("data[BOT][567][BOT_CODE]", "okdesk_rating"),
        ("data[BOT][39][BOT_ID]", "39"),
        ("data[PARAMS][MESSAGE]", "5"),
        ("data[USER][ID]", "27"),
    ]

    reply = _only(parse_event(urlencode(pairs).encode()))

    assert isinstance(reply, ChatReply)
    assert reply.bot_ids == (567, 39)


def test_events_without_a_bot_are_addressed_to_none() -> None:
    bare = b"event=ONIMBOTMESSAGEADD&data[PARAMS][MESSAGE]=5&data[USER][ID]=27"

    assert not addressed_to(_only(parse_event(bare)), 567, "okdesk_rating")
    assert not addressed_to(OtherEvent("ONAPPINSTALL"), 567, "okdesk_rating")
    assert not addressed_to(BotDeleted(bot_id=None), 567, "okdesk_rating")


@pytest.mark.parametrize("fixture", [CLICK, REPLY, JOIN, DELETE])
def test_each_event_carries_the_portal_member_id(fixture: str) -> None:
    other = event_body(fixture, **{"auth[member_id]": "f00dbabe"})

    assert parse_event(_fixture(fixture)).auth.member_id == "bac1cd5c8f1a4e0b9d2f6a7c3e4b5d61"
    assert parse_event(other).auth.member_id == "f00dbabe"


# --- other events and the event name ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ONAPPINSTALL", "ONAPPINSTALL"),
        ("ONIMBOTMESSAGEUPDATE", "ONIMBOTMESSAGEUPDATE"),
        ("ONIMBOTMESSAGEDELETE", "ONIMBOTMESSAGEDELETE"),
        ("onSomethingNew", "ONSOMETHINGNEW"),
        ("ONIMBOTV2MESSAGEADD", "ONIMBOTV2MESSAGEADD"),
    ],
)
def test_unknown_events_are_other_events(name: str, expected: str) -> None:
    parsed = parse_event(event_body(REPLY, event=name))

    assert parsed.name == expected
    assert parsed.events == (OtherEvent(expected),)
    assert parsed.auth == ACME_AUTH


def test_event_name_is_matched_without_case() -> None:
    parsed = parse_event(event_body(CLICK, event="onimcommandadd"))

    assert parsed.name == "ONIMCOMMANDADD"
    assert isinstance(_only(parsed), RatingClick)


def test_missing_auth_block_gives_empty_auth_not_an_error() -> None:
    parsed = parse_event(b"event=ONAPPINSTALL")

    assert parsed.auth == EventAuth(application_token="", domain="", member_id="")
