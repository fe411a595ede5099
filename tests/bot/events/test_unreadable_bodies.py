"""Unreadable Bitrix24 event bodies are format errors: bounded in fields and depth, and any
bytes parse or raise, never trusting what they read."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.events import ParsedEvent, parse_event
from bot.texts.form import MAX_DEPTH, MAX_FIELDS, EventFormatError, parse_form

# --- refused bodies --------------------------------------------------------------------------


def _fields(count: int) -> bytes:
    return "&".join(f"f{i}=v" for i in range(count)).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "'event' is missing"),
        (b"event=", "'event' is missing"),
        (b"data[USER][ID]=27&auth[domain]=acme.bitrix24.ru", "'event' is missing"),
        (b"event[x]=ONIMCOMMANDADD", "'event' is missing"),
        (b"event=ONIMBOTDELETE&auth=rating-bot-acme", "'auth' must be a group"),
        (b"event=ONIMBOTDELETE&data=567", "'data' must be a group"),
        (b"event=X&" + _fields(MAX_FIELDS), f"more than {MAX_FIELDS} fields"),
        (b"event=X&" + b"&" * MAX_FIELDS, f"more than {MAX_FIELDS} fields"),
        (b"event=X&a" + b"[x]" * MAX_DEPTH + b"=1", f"deeper than {MAX_DEPTH}"),
        (b"event=X&a=1&a[b]=2", "both a value and a group"),
        (b"event=X&a[b]=2&a=1", "both a value and a group"),
        (b"event=X&a[b]=1&a[b][c]=2", "both a value and a group"),
        (b"event=X&a]b[=1", "malformed field name"),
        (b"event=X&[a]=1", "malformed field name"),
        (b"event=X&a[b=1", "malformed field name"),
        (b"event=X&a[b]c=1", "malformed field name"),
        (b"event=X&a[[b]]=1", "malformed field name"),
        (b"event=X&=1", "malformed field name"),
        (b"event=X&text=\xff\xfe", "not UTF-8"),
        (b"event=\xd0", "not UTF-8"),
        ("event=ONIMBOTDELETE".encode("utf-16"), "not UTF-8"),
    ],
)
def test_unreadable_bodies_are_format_errors(body: bytes, message: str) -> None:
    with pytest.raises(EventFormatError, match=message):
        parse_event(body)


def test_exactly_max_fields_and_max_depth_are_still_accepted() -> None:
    deepest = "a" + "[x]" * (MAX_DEPTH - 1)
    body = f"event=X&{deepest}=1&".encode() + _fields(MAX_FIELDS - 2)

    tree = parse_form(body)

    assert len(tree) == MAX_FIELDS  # event, a, and f0..f197
    assert tree["a"]["x"]["x"]["x"]["x"]["x"] == "1"


def test_percent_encoded_brackets_are_the_same_key_as_raw_ones() -> None:
    raw = parse_form(b"data[USER][ID]=27")
    encoded = parse_form(quote("data[USER][ID]").encode() + b"=27")

    assert raw == encoded == {"data": {"USER": {"ID": "27"}}}


def test_a_trailing_newline_after_brackets_is_a_malformed_key() -> None:
    with pytest.raises(EventFormatError, match="malformed field name"):
        parse_form(b"event=X&a%5Bb%5D%0A=1")


# --- properties ------------------------------------------------------------------------------

_FORM_PIECES = st.sampled_from(
    [
        *("event", "=", "&", "[", "]", "data", "COMMAND", "USER", "ID", "PARAMS", "auth"),
        *("ONIMCOMMANDADD", "ONIMBOTMESSAGEADD", "ONIMBOTJOINCHAT", "ONIMBOTDELETE", "103", "27"),
        *("%5B", "%5D", "%FF", "%", "+", "x", "0", "-1", "\u00b2", "\u0663", "\n", ";"),
    ]
)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_parse_or_raise_event_format_error(body: bytes) -> None:
    try:
        parsed = parse_event(body)
    except EventFormatError:
        return
    assert isinstance(parsed, ParsedEvent)
    assert parsed.name


@given(st.lists(_FORM_PIECES, max_size=60).map(lambda parts: "".join(parts).encode()))
def test_event_like_bytes_parse_or_raise_event_format_error(body: bytes) -> None:
    try:
        parsed = parse_event(body)
    except EventFormatError:
        return
    assert isinstance(parsed, ParsedEvent)
    assert parsed.name


_SIMPLE_KEY = st.text(min_size=1, max_size=20).filter(lambda key: "[" not in key and "]" not in key)


@given(st.dictionaries(_SIMPLE_KEY, st.text(max_size=40), max_size=MAX_FIELDS))
def test_urlencoded_simple_dict_round_trips(values: dict[str, str]) -> None:
    assert parse_form(urlencode(values).encode()) == values
