"""The words, numbers and signs a typed reply to the survey is read with (`bot.reading.replies`).

Every known word has a role (a score, a grade, thanks, a hedge, a counted thing ...) and, for
scores and grades, the score it stands for. Words are folded as `bot.reading.reply_tokens`
folds a reply: lower case, «е» for «ё».
"""

from enum import Enum
from typing import NamedTuple


class Role(Enum):
    """What a word, number or sign does in a reply."""

    SCORE = "score"  # 1–5 as a digit or a word: «4», «пять», «четверка»
    NUMBER = "number"  # any other number, time, date or range: «0», «15:00», «4-5»
    LEAD = "lead"  # announces a rating: «оценка», «ставлю», «rating»
    ON = "on"  # «на»: «на 5» is a rating, «на 2 этаже» is not
    UNIT = "unit"  # a rating unit after the score: «баллов», «звезд»
    SCALE = "scale"  # «из», «of», «/» in «4 из 5»
    CLEAR = "clear"  # a grade on its own: «отлично», «ужасно», stars, 👍
    SOFT = "soft"  # a grade or small talk: «хорошо», «плохо», «good»
    NEUTRAL = "neutral"  # thanks, acknowledgements, remarks: «спасибо», «ок», «быстро»
    HEDGE = "hedge"  # uncertainty: «ну», «наверное», «maybe»
    NEGATION = "negation"  # «не», «not»
    COUNTED = "counted"  # a thing a number counts: «минут», «этаж», «мая»
    TICKET = "ticket"  # «заявка», «ticket»
    HASH = "hash"  # «#» or «№»
    CONTENT = "content"  # any other word
    BREAK = "break"  # punctuation between clauses
    QUESTION = "question"  # «?»


class Token(NamedTuple):
    """One word, number or sign of a reply: what it does, the number it stands for, its text."""

    role: Role
    value: int | None
    text: str


_SPELLED_SCORES = {
    1: "один одна единица единицу единичка единичку one",
    2: "два две двойка двойку двоечка двоечку two",
    3: "три тройка тройку троечка троечку three",
    4: "четыре четверка четверку четверочка четверочку four",
    5: "пять пятерка пятерку пятерочка пятерочку five",
}
_CLEAR_GRADES = {
    5: "отлично отлична отличный отличная отличное отличные превосходно превосходный "
    "превосходная великолепно великолепный великолепная идеально идеальный идеальная "
    "excellent perfect superb outstanding",
    3: "удовлетворительно",
    2: "неудовлетворительно",
    1: "ужасно ужасный ужасная ужасное ужасные ужас отвратительно отвратительный "
    "отвратительная кошмар кошмарно terrible awful horrible",
}
_SOFT_GRADES = {
    5: "супер класс классно круто замечательно прекрасно great awesome",
    4: "хорошо хороший хорошая хорошее хорошие неплохо good nice",
    3: "нормально нормальный нормальная нормальное средне сносно normal average",
    2: "плохо плохой плохая плохое плохие bad poor",
}
_WORDS_BY_ROLE = {
    Role.LEAD: "оценка оценку оценки оценкой оцениваю оценю оценил оценила оценим ставлю "
    "поставлю поставил поставила ставим поставим даю дам моя мою итог итого твердая твердую "
    "твердое уверенная уверенную заслуженная заслуженную rating rate rated score give my",
    Role.ON: "на",
    Role.UNIT: "балл балла баллов баллы бал бала балов звезда звезды звезд звезду звездочка "
    "звездочки звездочек звездочку star stars point points pts ка ку плюс плюсом минус минусом",
    Role.SCALE: "из of out",
    Role.NEUTRAL: "спасибо спасибки спс благодарю благодарим большое огромное вам всем "
    "пожалуйста thanks thank you thx ty please ок окей ok okay okey норм fine ладно понятно "
    "ясно понял поняла принято да yes ага угу очень very really so просто вполне весьма все "
    "было прошло работа работу сервис обслуживание job work service быстро долго медленно "
    "оперативно вовремя качественно вежливо грубо профессионально fast quick quickly slow "
    "slowly и а но and but я i it a the",
    Role.HEDGE: "ну наверное наверно пожалуй думаю может быть пусть будет мб примерно где-то "
    "вроде типа бы скорее maybe probably perhaps guess think well hmm um хм эм мм ммм",
    Role.NEGATION: "не ни нет нисколько not no never dont cant isnt wasnt",
    Role.COUNTED: "раз раза час часа часов часу ч мин сек день дня дней дн сутки суток год "
    "года лет мес май мая утра вечера ночи числа число эт каб кв пк шт чел дом дома корп стр "
    "min mins sec secs hr hrs h am pm day days week weeks month months year years time times "
    "may floor room people pcs o'clock",
}
# Words that only ever stand for a number as the other end of a scale: «4 из пяти», «10 of ten».
_NUMBER_WORDS = {"пяти": 5, "десять": 10, "десяти": 10, "ten": 10}
_COUNTED_STEM_LIST = (
    "минут секунд часик недел месяц январ феврал март апрел июн июл август сентябр октябр "
    "ноябр декабр этаж кабинет комнат офис корпус здани квартир комп принтер монитор ноутбук "
    "телефон сервер пользоват сотрудник человек штук вопрос проблем ошибк номер момент minute "
    "second hour printer computer laptop monitor user problem question moment january february "
    "march april june july august september october november december"
)
COUNTED_STEMS = tuple(_COUNTED_STEM_LIST.split())
TICKET_STEMS = ("заявк", "тикет", "обращени", "ticket", "issue", "request")
# What may stand between a ticket word and its number: «заявка: №12345», «ticket no. 12345».
TICKET_GAP = frozenset({":", ".", "#", "номер", "no", "number", "nr", "n"})
TICKET_PREPOSITIONS = frozenset({"по", "за", "for", "on", "re"})
TICKET_AND = frozenset({"и", "and", "или", "or"})
MAX_TICKET_GAP = 3

MARKS = {
    **dict.fromkeys(",;.!:()-|\n", (Role.BREAK, None)),
    "?": (Role.QUESTION, None),
    "/": (Role.SCALE, None),
    "#": (Role.HASH, None),
    "👍": (Role.CLEAR, 5),
    "👎": (Role.CLEAR, 1),
}
FILLED_STARS = "★⭐"
SCORES = frozenset(range(1, 6))
OTHER_SCALES = frozenset({10, 100})


def _vocabulary() -> dict[str, tuple[Role, int | None]]:
    """Every word this module knows, with what it does in a reply."""
    vocabulary: dict[str, tuple[Role, int | None]] = {}
    for role, words in _WORDS_BY_ROLE.items():
        vocabulary.update(dict.fromkeys(words.split(), (role, None)))
    vocabulary.update({word: (Role.NUMBER, value) for word, value in _NUMBER_WORDS.items()})
    for role, table in (
        (Role.SCORE, _SPELLED_SCORES),
        (Role.CLEAR, _CLEAR_GRADES),
        (Role.SOFT, _SOFT_GRADES),
    ):
        for score, words in table.items():
            vocabulary.update(dict.fromkeys(words.split(), (role, score)))
    return vocabulary


VOCABULARY = _vocabulary()
