"""The rating keyboard, its command parameters and the texts the bot writes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.texts.messages import (
    Language,
    as_seen,
    command_params,
    invitation,
    parse_command_params,
    plain,
    rating_keyboard,
)

pytestmark = pytest.mark.anyio


# --- messages and the keyboard ---------------------------------------------------------------


def test_rating_keyboard_has_five_blocking_rate_buttons_in_order() -> None:
    buttons = rating_keyboard("s7Kq2m")["BUTTONS"]

    assert [b["TEXT"] for b in buttons] == ["1", "2", "3", "4", "5"]
    assert [b["COMMAND_PARAMS"] for b in buttons] == [f"s7Kq2m:{n}" for n in range(1, 6)]
    assert all(b["COMMAND"] == "rate" and b["BLOCK"] == "Y" for b in buttons)
    assert all(b["DISPLAY"] == "LINE" for b in buttons)


@given(
    # Survey tokens are URL-safe base64 (storage.queries.new_survey_token).
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=5),
)
def test_command_params_round_trip(token: str, score: int) -> None:
    assert parse_command_params(command_params(token, score)) == (token, score)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("s7Kq2m:4", ("s7Kq2m", 4)),
        ("  s7Kq2m:5\n", ("s7Kq2m", 5)),
        ("a:b:3", None),
        ("tok\x00:4", None),
        ("x", None),
        ("tok:0", None),
        ("tok:6", None),
        (":3", None),
        ("tok:", None),
        ("", None),
        ("tok:-1", None),
        ("tok:+3", None),
        ("tok:3.0", None),
        ("tok: 3", None),
    ],
)
def test_parse_command_params(params: str, expected: tuple[str, int] | None) -> None:
    assert parse_command_params(params) == expected


@pytest.mark.parametrize("params", ["tok:²", "tok:" + "9" * 5000])
def test_unreadable_score_is_none_not_an_exception(params: str) -> None:
    assert parse_command_params(params) is None


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("[b]bold[/b]", 200, "(b)bold(/b)"),
        ("[url=https://evil.example]click[/url]", 200, "(url=https://evil.example)click(/url)"),
        ("line\none\t\ttwo  ", 200, "line one two"),
        ("x" * 250, 200, "x" * 199 + "…"),
        ("y" * 200, 200, "y" * 200),
        ("abcdef", 4, "abc…"),
    ],
)
def test_plain_removes_bb_code_brackets_and_bounds_length(
    value: str, limit: int, expected: str
) -> None:
    cleaned = plain(value, limit)

    assert cleaned == expected
    assert "[" not in cleaned and "]" not in cleaned
    assert len(cleaned) <= limit


@given(st.text(max_size=500), st.integers(min_value=1, max_value=300))
def test_plain_never_leaves_brackets_or_exceeds_the_limit(value: str, limit: int) -> None:
    cleaned = plain(value, limit)

    assert "[" not in cleaned and "]" not in cleaned
    assert len(cleaned) <= limit


@pytest.mark.parametrize(
    ("language", "number_text", "engineer_label"),
    [("ru", "№1042", "Исполнитель: "), ("en", "#1042", "Engineer: ")],
)
def test_invitation_names_number_title_and_engineer(
    language: Language, number_text: str, engineer_label: str
) -> None:
    text = invitation(1042, "Касса [b]не[/b] печатает чек", "Алексей Карпенко", language)

    assert number_text in text
    assert "«Касса (b)не(/b) печатает чек»" in text
    assert f"{engineer_label}Алексей Карпенко" in text


@pytest.mark.parametrize(("language", "label"), [("ru", "Исполнитель"), ("en", "Engineer")])
def test_invitation_without_engineer_or_title_omits_those_lines(
    language: Language, label: str
) -> None:
    text = invitation(7, None, None, language)

    assert "7" in text
    assert label not in text
    assert "«" not in text


def test_invitation_bounds_a_huge_title() -> None:
    text = invitation(1, "Ж" * 5000, "И" * 500, "ru")

    assert "Ж" * 199 + "…" in text
    assert "Ж" * 200 not in text
    assert "И" * 99 + "…" in text


@pytest.mark.parametrize(
    ("message", "seen"),
    [
        ("[b]Заявка №7 закрыта[/b][br]«Принтер»", "Заявка №7 закрыта\n«Принтер»"),
        ("[B]Bold[/B][BR]next", "Bold\nnext"),
        ("[i]a[/i] [u]b[/u] [s]c[/s]", "a b c"),
        ("[size=14]big[/size] [color=#ff0000]red[/color]", "big red"),
        ("[url=https://acme.example/x]the page[/url]", "the page (https://acme.example/x)"),
        ("[send=5]five[/send] or [put=4]four[/put]", "five or four"),
        ("no markup (1) [unknown]", "no markup (1) [unknown]"),
    ],
)
def test_as_seen_shows_a_message_as_the_chat_does(message: str, seen: str) -> None:
    assert as_seen(message) == seen
