"""Stars, emoji and Bitrix24 markup; empty, huge and hostile texts read without error and
are never a rating by accident."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.reading.replies import ReplyKind, ReplyReading, parse_rating, read_reply
from tests.bot.reading.kinds import DOUBTFUL, OTHER, RATING

WHITESPACE = st.text(
    st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000"]),
    max_size=10,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("★", 1),
        ("★★★★", 4),
        ("★★★★★", 5),
        ("★ ★ ★", 3),
        ("⭐⭐⭐", 3),
        ("⭐️⭐️", 2),
        ("☆", 1),
        ("☆☆☆☆", 4),
        ("★★★☆☆", 3),
        ("⭐⭐⭐⭐☆", 4),
        ("★★★★ 4", 4),
        ("★★★★★ отлично", 5),
    ],
)
def test_stars_count_as_the_score(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize("text", ["★★★★★★", "☆☆☆☆☆☆☆", "★" * 100])
def test_more_than_five_stars_is_not_a_rating(text: str) -> None:
    assert read_reply(text).kind is OTHER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("👍", 5),
        ("👍🏻", 5),
        ("👍🏿", 5),
        ("👍👍", 5),
        ("спасибо 👍", 5),
        ("👎", 1),
        ("👎🏽", 1),
        ("1️⃣", 1),
        ("3️⃣", 3),
        ("5️⃣", 5),
        ("1⃣", 1),
        ("4⃣", 4),
        ("оценка 2️⃣", 2),
    ],
)
def test_emoji_is_a_rating(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize("text", ["👍👎", "0️⃣", "6️⃣", "9⃣", "🙂", "🔥🔥🔥", "хорошо 👍"])
def test_emoji_without_a_single_score_is_not_a_rating(text: str) -> None:
    assert read_reply(text).kind is OTHER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[b]5[/b]", ReplyReading(RATING, 5)),
        ("[B]отлично[/B]", ReplyReading(RATING, 5)),
        ("4[br]", ReplyReading(RATING, 4)),
        ("[USER=12]Иван Хороший[/USER] 3", ReplyReading(RATING, 3)),
        ("[user=12]Пётр Плохой[/user], отлично", ReplyReading(RATING, 5)),
        ("[USER=12]Иван[/USER]", ReplyReading(OTHER)),
        ("[i]ХОРОШО[/i][br]", ReplyReading(DOUBTFUL, 4)),
        ("[url=https://example.com/5]ссылка[/url] 2", ReplyReading(RATING, 2)),
        ("Всё отлично", ReplyReading(RATING, 5)),
    ],
)
def test_bitrix_markup_and_case_are_normalised(text: str, expected: ReplyReading) -> None:
    assert read_reply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "   \n\t ",
        "\u00a0",
        "[br]",
        "!!!",
        "...",
        "-",
        "\ud800",
        "\x00",
        "\u20e3",
        "[/user]",
        "#",
        "№",
    ],
)
def test_empty_or_symbol_only_text_is_not_a_rating(text: str) -> None:
    assert read_reply(text) == ReplyReading(OTHER)


def test_long_message_is_never_a_rating() -> None:
    comment = "мастер пришёл вовремя и всё объяснил, "
    assert read_reply("5 - " + comment * 3).kind is RATING
    assert read_reply("5 - " + comment * 10).kind is OTHER


@pytest.mark.parametrize(
    "text",
    [
        "1" * 100_000,
        "5 " * 50_000,
        "1/" * 50_000,
        "1 out " * 16_667,
        " " * 99_999 + "5",
        "[user=" * 16_667,
        "[user=1]" * 12_500,
        "[b" * 50_000,
        "a'" * 50_000,
        "оценка " * 14_286,
        "★" * 100_000,
        "ﷺ" * 100_000,
        "заявка #" * 12_500,
        "1.1-1:" * 16_667,
    ],
)
def test_huge_hostile_text_is_not_a_rating(text: str) -> None:
    assert read_reply(text) == ReplyReading(OTHER)


@pytest.mark.parametrize(
    "text",
    [
        "1" * 200,
        "1." * 100,
        "1 " * 100,
        "1/" * 100,
        "[user=" * 330,
        "[b" * 1000,
        "a-" * 100,
        "★ " * 100,
        "заявка # " * 22,
        "ﷺ" * 11,
    ],
)
def test_hostile_text_just_under_the_limits_is_read(text: str) -> None:
    assert read_reply(text).kind in set(ReplyKind)


@given(st.text(max_size=500))
def test_any_text_reads_without_error(text: str) -> None:
    reading = read_reply(text)
    assert (reading.score is None) == (reading.kind is OTHER)
    assert reading.score is None or 1 <= reading.score <= 5
    assert parse_rating(text) == (reading.score if reading.kind is RATING else None)


@given(
    st.text(
        st.sampled_from(list("12345 ,.-:/?!№#заявкаоценкаминут★👍")),
        max_size=300,
    )
)
def test_text_of_rating_pieces_reads_without_error(text: str) -> None:
    assert read_reply(text).kind in set(ReplyKind)


@given(st.integers(min_value=1, max_value=5), WHITESPACE, WHITESPACE)
def test_digit_surrounded_by_whitespace_is_that_score(score: int, before: str, after: str) -> None:
    assert read_reply(f"{before}{score}{after}") == ReplyReading(RATING, score)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", OTHER),
        ("=5", OTHER),
        ("@5", OTHER),
        ("=HYPERLINK(5)", OTHER),
        ("1+1", OTHER),
        ("2*2", OTHER),
        ("3 + 1", OTHER),
        ("5=5", OTHER),
        ("4^1", OTHER),
        ("5/5", RATING),
        ("5+", RATING),
        ("5 - быстро", RATING),
    ],
)
def test_a_formula_or_a_sum_is_not_a_rating(text: str, expected: ReplyKind) -> None:
    """Issue 23, point 11: «=1+1» read as a 1 rated tickets by arithmetic."""
    assert read_reply(text).kind is expected
