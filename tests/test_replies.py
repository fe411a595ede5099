import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.replies import parse_rating

WHITESPACE = st.text(
    st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c", "\u00a0", "\u2003", "\u3000"]),
    max_size=10,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("2", 2),
        ("3", 3),
        ("4", 4),
        ("5", 5),
        (" 4 ", 4),
        ("\n\t3\r\n", 3),
        ("5!", 5),
        ("5.", 5),
        ("5+", 5),
        ("«4»", 4),
        ("оценка 3", 3),
        ("Оценка: 3", 3),
        ("ОЦЕНКА - 2", 2),
        ("rating 2", 2),
        ("Rating: 5", 5),
        ("５", 5),
        ("5 5", 5),
    ],
)
def test_typed_digit_is_a_rating(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4/5", 4),
        ("4 / 5", 4),
        ("5/5", 5),
        ("1/5", 1),
        ("3 из 5", 3),
        ("3из5", 3),
        ("3 out of 5", 3),
        ("3 OUT   OF 5", 3),
        ("2 of 5", 2),
        ("5 из 5, спасибо", 5),
    ],
)
def test_score_out_of_five_is_one_rating(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4 - быстро и вежливо", 4),
        ("5, спасибо!", 5),
        ("3 долго ждали", 3),
        ("5 - плохо объясняли, но починили", 5),
        ("4 — хорошо", 4),
        ("5 всё сделали быстро, мастер пришёл вовремя и всё объяснил", 5),
        ("Оценка: 4, мастер приехал вовремя и всё быстро починил", 4),
    ],
)
def test_leading_score_followed_by_comment_is_a_rating(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "6",
        "7",
        "10",
        "45",
        "1234",
        "05",
        "6/5",
        "0/5",
        "3 из 10",
        "2 out of 10",
        "4/10",
        "ticket 314599 again",
        "заявка 314599",
        "отлично, заявка 314599",
        "+7 (912) 345-67-89",
        "8-800-555-35-35",
        "12.05",
        "12.05.2024",
        "1.05",
        "4.5",
    ],
)
def test_number_outside_one_to_five_is_not_a_rating(text: str) -> None:
    assert parse_rating(text) is None


@pytest.mark.parametrize(
    "text",
    ["3 или 4", "between 2 and 5", "4 или 5/5", "1 2 3", "от 1 до 5", "★★★★★ 4", "4️⃣5️⃣"],
)
def test_several_different_scores_are_ambiguous(text: str) -> None:
    assert parse_rating(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("отлично", 5),
        ("Отлично!", 5),
        ("отличная", 5),
        ("ОТЛИЧНЫЙ", 5),
        ("превосходно", 5),
        ("хорошо", 4),
        ("хороший", 4),
        ("хорошая работа", 4),
        ("очень хорошо", 4),
        ("Очень хорошо, спасибо!", 4),
        ("нормально", 3),
        ("норм", 3),
        ("нормальная", 3),
        ("удовлетворительно", 3),
        ("плохо", 2),
        ("плохой", 2),
        ("плохая", 2),
        ("ужасно", 1),
        ("ужасный", 1),
        ("ужасная", 1),
        ("отвратительно", 1),
        ("Отвратительно!!!", 1),
        ("хорошо, хорошо", 4),
    ],
)
def test_russian_score_word_is_a_rating(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("excellent", 5),
        ("Great!", 5),
        ("perfect", 5),
        ("good", 4),
        ("very good", 4),
        ("Very good, thanks", 4),
        ("ok", 3),
        ("OK", 3),
        ("okay", 3),
        ("fine", 3),
        ("normal", 3),
        ("bad", 2),
        ("poor", 2),
        ("terrible", 1),
        ("awful", 1),
        ("Horrible.", 1),
    ],
)
def test_english_score_word_is_a_rating(text: str, expected: int) -> None:
    assert parse_rating(text) == expected


@pytest.mark.parametrize("text", ["не плохо", "Не плохо!", "not bad", "not good", "isn't bad"])
def test_negated_score_word_is_ambiguous(text: str) -> None:
    assert parse_rating(text) is None


@pytest.mark.parametrize("text", ["хорошо, но плохо", "good but terrible", "отлично или норм"])
def test_words_for_different_scores_are_ambiguous(text: str) -> None:
    assert parse_rating(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "хорошо, а когда придёт мастер по второй заявке?",
        "хорошо?",
        "5?",
        "4/5?",
        "хорошо что вы наконец приехали и всё починили вчера вечером",
        "заявка 3 закрыта, но мастер так и не пришёл ко мне",
        "спасибо",
        "привет",
        "когда придёт мастер",
    ],
)
def test_question_or_unrelated_chatter_is_not_a_rating(text: str) -> None:
    assert parse_rating(text) is None


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
    assert parse_rating(text) is None


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
    assert parse_rating(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[b]5[/b]", 5),
        ("[B]отлично[/B]", 5),
        ("4[br]", 4),
        ("[USER=12]Иван Хороший[/USER] 3", 3),
        ("[user=12]Пётр Плохой[/user], отлично", 5),
        ("[USER=12]Иван[/USER]", None),
        ("[i]ХОРОШО[/i][br]", 4),
        ("[url=https://example.com/5]ссылка[/url] 2", 2),
        ("Ёлки, отлично", 5),
        ("Норм.", 3),
    ],
)
def test_bitrix_markup_and_case_are_normalised(text: str, expected: int | None) -> None:
    assert parse_rating(text) == expected


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
    ],
)
def test_empty_or_symbol_only_text_is_not_a_rating(text: str) -> None:
    assert parse_rating(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "1" * 65536,
        "1 " * 32768,
        "1/" * 32768,
        "1 out " * 10922,
        " " * 65535 + "x",
        "[user=" * 10922,
        "[user=1]" * 8192,
        "[b" * 32768,
        "a'" * 32768,
        "оценка " * 9362,
        "★" * 65536,
        "ﷺ" * 21845,
    ],
)
def test_huge_hostile_text_is_parsed_in_linear_time(text: str) -> None:
    started = time.perf_counter()
    assert parse_rating(text) in {None, 1, 2, 3, 4, 5}
    assert time.perf_counter() - started < 2.0


@given(st.text(max_size=500))
def test_any_text_gives_none_or_a_score(text: str) -> None:
    assert parse_rating(text) in {None, 1, 2, 3, 4, 5}


@given(st.integers(min_value=1, max_value=5), WHITESPACE, WHITESPACE)
def test_digit_surrounded_by_whitespace_is_that_score(score: int, before: str, after: str) -> None:
    assert parse_rating(f"{before}{score}{after}") == score
