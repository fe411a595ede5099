"""Typed scores and grade words: a clear one is a rating, an everyday or asked one is doubtful,
several different ones are ambiguous."""

import pytest

from bot.reading.replies import ReplyReading, parse_rating, read_reply
from tests.bot.reading.kinds import DOUBTFUL, OTHER, RATING


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
        ("4 из пяти", 4),
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
        ("5\nмастер пришёл вовремя", 5),
        ("5 всё сделали быстро, мастер пришёл вовремя и всё объяснил", 5),
        ("Оценка: 4, мастер приехал вовремя и всё быстро починил", 4),
        ("5 - приехали через 2 часа, но всё починили", 5),
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
        "+7 (912) 345-67-89",
        "8-800-555-35-35",
        "12.05",
        "12.05.2024",
        "1.05",
        "4.5",
    ],
)
def test_number_outside_one_to_five_is_not_a_rating(text: str) -> None:
    assert read_reply(text).kind is OTHER


@pytest.mark.parametrize(
    "text",
    ["3 или 4", "between 2 and 5", "4 или 5/5", "1 2 3", "от 1 до 5", "★★★★★ 4", "4️⃣5️⃣"],
)
def test_several_different_scores_are_ambiguous(text: str) -> None:
    assert read_reply(text).kind is OTHER


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("отлично", 5),
        ("Отлично!", 5),
        ("отличная", 5),
        ("ОТЛИЧНЫЙ", 5),
        ("превосходно", 5),
        ("удовлетворительно", 3),
        ("неудовлетворительно", 2),
        ("ужасно", 1),
        ("ужасный", 1),
        ("ужасная", 1),
        ("отвратительно", 1),
        ("Отвратительно!!!", 1),
        ("excellent", 5),
        ("perfect", 5),
        ("terrible", 1),
        ("awful", 1),
        ("Horrible.", 1),
    ],
)
def test_clear_grade_word_is_a_rating(text: str, expected: int) -> None:
    assert read_reply(text) == ReplyReading(RATING, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("хорошо", 4),
        ("хороший", 4),
        ("хорошая работа", 4),
        ("очень хорошо", 4),
        ("Очень хорошо, спасибо!", 4),
        ("хорошо, хорошо", 4),
        ("нормально", 3),
        ("нормальная", 3),
        ("плохо", 2),
        ("плохой", 2),
        ("плохая", 2),
        ("Great!", 5),
        ("good", 4),
        ("very good", 4),
        ("Very good, thanks", 4),
        ("normal", 3),
        ("bad", 2),
        ("poor", 2),
    ],
)
def test_everyday_grade_word_is_doubtful(text: str, expected: int) -> None:
    assert read_reply(text) == ReplyReading(DOUBTFUL, expected)


@pytest.mark.parametrize("text", ["ok", "OK", "okay", "fine", "ок", "окей", "норм", "Норм."])
def test_acknowledgement_is_not_a_rating(text: str) -> None:
    assert read_reply(text) == ReplyReading(OTHER)


@pytest.mark.parametrize(
    "text", ["не плохо", "Не плохо!", "not bad", "not good", "isn't bad", "не отлично"]
)
def test_negated_score_word_is_not_a_rating(text: str) -> None:
    assert read_reply(text) == ReplyReading(OTHER)


@pytest.mark.parametrize("text", ["хорошо, но плохо", "good but terrible", "отлично или норм"])
def test_words_for_different_scores_are_ambiguous(text: str) -> None:
    assert read_reply(text) == ReplyReading(OTHER)


@pytest.mark.parametrize(("text", "expected"), [("5?", 5), ("4/5?", 4), ("отлично?", 5)])
def test_clear_rating_asked_as_a_question_is_doubtful(text: str, expected: int) -> None:
    assert read_reply(text) == ReplyReading(DOUBTFUL, expected)


@pytest.mark.parametrize(
    "text",
    [
        "хорошо, а когда придёт мастер по второй заявке?",
        "хорошо?",
        "ну 4?",
        "хорошо что вы наконец приехали и всё починили вчера вечером",
        "спасибо",
        "привет",
        "когда придёт мастер",
    ],
)
def test_question_or_unrelated_chatter_is_not_a_rating(text: str) -> None:
    assert read_reply(text).kind is OTHER
