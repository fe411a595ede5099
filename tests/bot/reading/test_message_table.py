"""Every message of the table reads as expected, and parse_rating gives only a clear score."""

import pytest
from _pytest.mark import ParameterSet

from bot.reading.replies import ReplyKind, ReplyReading, parse_rating, read_reply
from tests.bot.reading.kinds import DOUBTFUL, OTHER, RATING


def case(
    name: str, text: str, kind: ReplyKind, score: int | None = None, ticket: int | None = None
) -> ParameterSet:
    """One real-looking chat message and how it must read."""
    return pytest.param(text, ReplyReading(kind, score, ticket), id=name)


MESSAGES = [
    # A lone score, with rating words or punctuation around it.
    case("lone digit", "5", RATING, 5),
    case("digit with bang", "5!", RATING, 5),
    case("digit in spaces", "  3  ", RATING, 3),
    case("one", "1", RATING, 1),
    case("ocenka 4", "оценка 4", RATING, 4),
    case("Ocenka colon 3", "Оценка: 3", RATING, 3),
    case("stavlyu 5", "ставлю 5", RATING, 5),
    case("4 iz 5", "4 из 5", RATING, 4),
    case("5 slash 5", "5/5", RATING, 5),
    case("5 ballov", "5 баллов", RATING, 5),
    case("4 balla with comment", "4 балла, мастер опоздал на час", RATING, 4),
    case("na 5", "на 5", RATING, 5),
    case("5 zvezd", "5 звезд", RATING, 5),
    case("4 iz 5 zvyozd", "4 из 5 звёзд", RATING, 4),
    case("5 stars", "5 stars", RATING, 5),
    case("4 out of 5", "4 out of 5", RATING, 4),
    case("rating colon 4", "rating: 4", RATING, 4),
    case("i give it a 5", "I give it a 5", RATING, 5),
    case("5 plus", "5+", RATING, 5),
    case("repeated score", "5 5 5", RATING, 5),
    case("spelled pyat", "пять", RATING, 5),
    case("spelled Pyat bang", "Пять!", RATING, 5),
    case("spelled five", "five", RATING, 5),
    case("pyatyorka", "Пятёрка!", RATING, 5),
    case("na pyaterku", "на пятерку", RATING, 5),
    case("tverdaya chetverka", "твердая четверка", RATING, 4),
    case("stars 4 of 5", "★★★★☆", RATING, 4),
    case("emoji stars", "⭐⭐⭐", RATING, 3),
    case("keycap 4", "4️⃣", RATING, 4),
    case("keycap 5", "5️⃣", RATING, 5),
    case("bb bold", "[b]5[/b]", RATING, 5),
    case("fullwidth digit", "５", RATING, 5),
    # A score that opens the message, followed by a comment.
    case("score dash comment", "5 - быстро и вежливо", RATING, 5),
    case("score comma thanks", "5 , спасибо 🙏", RATING, 5),
    case("score then remark", "3 долго ждали", RATING, 3),
    case("score then soft word", "4 - хорошо", RATING, 4),
    case("score of five then praise", "5 из 5, всё супер", RATING, 5),
    case("thanks then ocenka", "Спасибо! Оценка 5", RATING, 5),
    case("score then question", "5, а когда придёт мастер?", DOUBTFUL, 5),
    # Grade words and signs.
    case("otlichno", "отлично", RATING, 5),
    case("OTLICHNO caps", "ОТЛИЧНО!!!", RATING, 5),
    case("otlichno thanks", "Отлично, спасибо!", RATING, 5),
    case("vsyo bylo otlichno", "всё было отлично", RATING, 5),
    case("otlichnaya rabota", "отличная работа", RATING, 5),
    case("otlichno thumb", "Отлично 👍", RATING, 5),
    case("excellent", "excellent", RATING, 5),
    case("perfect", "Perfect.", RATING, 5),
    case("udovletvoritelno", "удовлетворительно", RATING, 3),
    case("uzhasno", "ужасно", RATING, 1),
    case("terrible", "terrible", RATING, 1),
    case("thumb up", "👍", RATING, 5),
    case("thumb up skin tone", "👍🏻", RATING, 5),
    case("thumb down", "👎", RATING, 1),
    case("ocenka khorosho", "оценка: хорошо", RATING, 4),
    # Ticket named explicitly.
    case("number sign dash", "№12345 — 4", RATING, 4, 12345),
    case("zayavka colon", "заявка 12345: 5", RATING, 5, 12345),
    case("hash then score", "#12345 5", RATING, 5, 12345),
    case("score for ticket", "5 за заявку 12345", RATING, 5, 12345),
    case("po zayavke stavlyu", "по заявке №12345 ставлю 4", RATING, 4, 12345),
    case("ticket then word", "заявка 12345 отлично", RATING, 5, 12345),
    case("english ticket no", "ticket no. 12345: 4", RATING, 4, 12345),
    case("ticket alone", "заявка 12345", OTHER, None, 12345),
    case("ticket in chatter", "заявка 3 закрыта, но мастер так и не пришёл", OTHER, None, 3),
    case("two tickets", "заявки 123 и 456 - 5", OTHER),
    # Maybe a rating: the bot asks back.
    case("khorosho", "хорошо", DOUBTFUL, 4),
    case("khorosho thanks", "хорошо, спасибо", DOUBTFUL, 4),
    case("ochen khorosho", "очень хорошо", DOUBTFUL, 4),
    case("good", "Good", DOUBTFUL, 4),
    case("good job", "good job", DOUBTFUL, 4),
    case("great", "Great!", DOUBTFUL, 5),
    case("normalno", "нормально", DOUBTFUL, 3),
    case("neploho", "неплохо", DOUBTFUL, 4),
    case("plokho", "плохо", DOUBTFUL, 2),
    case("question 4", "4?", DOUBTFUL, 4),
    case("question 4 of 5", "4/5?", DOUBTFUL, 4),
    case("hedged nu 4", "ну 4 наверное", DOUBTFUL, 4),
    case("maybe 4", "maybe 4", DOUBTFUL, 4),
    case("thanks then 5", "спасибо, 5", DOUBTFUL, 5),
    case("remark then 5", "мастер пришёл вовремя, 5", DOUBTFUL, 5),
    case("soft word then 4", "хорошо, 4", DOUBTFUL, 4),
    case("score then unknown word", "4 мастер молодец", DOUBTFUL, 4),
    case("ten of ten", "10/10", DOUBTFUL, 5),
    case("10 iz 10", "10 из 10", DOUBTFUL, 5),
    # A number inside ordinary words.
    case("5 minutes ago", "спасибо, 5 минут назад всё заработало", OTHER),
    case("1 minute", "1 минуту, проверю", OTHER),
    case("2nd floor", "на 2 этаже не работает", OTHER),
    case("2 etazh", "2 этаж", OTHER),
    case("1st of may", "1 мая", OTHER),
    case("khorosho v 5 pridu", "хорошо, в 5 приду", OTHER),
    case("otlichno v 5 pridu", "отлично, в 5 приду", OTHER),
    case("cherez 5 minut", "через 5 минут", OTHER),
    case("v 5", "в 5", OTHER),
    case("time 15:00", "в 15:00", OTHER),
    case("room 305", "каб. 305", OTHER),
    case("rebooted twice", "2 раза перезагрузил", OTHER),
    case("two computers", "у меня 2 компьютера не работают", OTHER),
    case("5 minutes en", "5 minutes", OTHER),
    case("see you at 5", "see you at 5", OTHER),
    case("phone plus 7", "+7 912 345-67-89", OTHER),
    case("phone 8 brackets", "8 (912) 345-67-89", OTHER),
    case("phone spaced", "2 45 67", OTHER),
    case("date dots", "12.05.2024", OTHER),
    # Not a score at all.
    case("ok ru", "ок", OTHER),
    case("OK en", "OK", OTHER),
    case("norm", "норм", OTHER),
    case("good morning", "good morning", OTHER),
    case("spasibo", "спасибо", OTHER),
    case("spasibo bolshoe", "Спасибо большое!", OTHER),
    case("vsyo ok", "всё ок, спасибо", OTHER),
    case("typo otlchino", "отлчино", OTHER),
    case("ne otlichno", "не отлично", OTHER),
    case("ne ploho", "не плохо", OTHER),
    case("not good", "not good", OTHER),
    case("khorosho question", "хорошо?", OTHER),
    case("zero", "0", OTHER),
    case("six", "6", OTHER),
    case("three and a half", "3.5", OTHER),
    case("range 4-5", "4-5", OTHER),
    case("between 3 and 4", "между 3 и 4", OTHER),
    case("3 ili 4", "3 или 4", OTHER),
    case("4 or 5", "4 or 5", OTHER),
    case("two scores", "4 5", OTHER),
    case("3 of 10", "3 из 10", OTHER),
    case("0 of 5", "0/5", OTHER),
    case("six stars", "★★★★★★", OTHER),
    case("thumbs up and down", "👍👎", OTHER),
    case("soft word and thumb", "хорошо 👍", OTHER),
    case("question chatter", "хорошо, а когда придёт мастер по второй заявке?", OTHER),
]


@pytest.mark.parametrize(("text", "expected"), MESSAGES)
def test_message_reads_as_expected(text: str, expected: ReplyReading) -> None:
    assert read_reply(text) == expected


def test_table_is_large_and_names_are_unique() -> None:
    names = [message.id for message in MESSAGES]
    assert len(names) >= 60 and len(set(names)) == len(names)


@pytest.mark.parametrize(("text", "expected"), MESSAGES)
def test_parse_rating_gives_only_a_clear_score(text: str, expected: ReplyReading) -> None:
    assert parse_rating(text) == (expected.score if expected.kind is RATING else None)
