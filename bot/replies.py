"""Read a typed Bitrix24 chat reply as a ticket rating, a doubtful one, or something else.

People answer the survey with its buttons or by typing. Typed text is a rating only when it *is*
one; when it merely may be one, the bot asks back («Оценить заявку №N на 4?») instead of guessing;
anything else gets the instructions with the buttons.

RATING, the score is recorded:
- a lone score 1–5: «5», «5!», «пять», «five», «четвёрка», «4️⃣», «★★★★☆», «[b]5[/b]»;
- with rating words around it: «оценка 4», «ставлю 5», «на 5», «4 из 5», «5/5», «5 баллов»;
- a score that opens the message, followed by a comment: «5 - быстро и вежливо», «5, спасибо»;
- grade words that name the top or the bottom of the scale, or a school grade, and are not
  everyday small talk: «отлично», «превосходно», «идеально», «excellent», «perfect»,
  «удовлетворительно» (3), «неудовлетворительно» (2), «ужасно», «отвратительно», «terrible»,
  and 👍 (5) / 👎 (1), alone or with thanks and the like («Отлично, спасибо!»).

DOUBTFUL, the bot asks back with the likely score:
- everyday words that also just mean "okay" or "not great": «хорошо» (4), «good» (4),
  «нормально» (3), «плохо» (2), «bad» (2), «супер»/«great» (5) — unless a rating word makes them a
  grade: «оценка хорошо» is a clear 4;
- a bare score after other words: «спасибо, 5», «мастер пришёл вовремя, 5»;
- a hedge: «ну 4 наверное», «maybe 4»; a clear rating asked as a question: «4?»;
- a score followed directly by a word this module does not know: «4 мастер молодец»;
- full marks on another scale: «10/10», «100 из 100» (5).

OTHER, not a rating:
- a number inside ordinary words: a word before it («в 5», «через 5 минут», «каб. 305») or a
  counted thing after it («5 минут», «2 этаж», «1 мая», «2 раза»); times, dates, phone numbers;
- acknowledgements and thanks alone: «ок», «ok», «норм», «fine», «спасибо», «всё ок, спасибо»;
- negated grades: «не отлично», «not good», «не плохо»;
- several different scores, halves and ranges: «3 или 4», «4-5», «3.5», «между 3 и 4»;
- numbers outside 1–5 («0», «6», «3 из 10»), a grade word among ordinary words («good morning»,
  «хорошо, в 5 приду»), a doubtful reply asked as a question («хорошо?»);
- anything longer than 200 characters once markup is dropped.

A ticket reference, «заявка 12345», «№12345», «#12345», names the ticket the reply is about: it is
reported whatever the kind («№12345 — 4» is a clear 4 for ticket 12345), and a reply naming two
different tickets is not a rating at all.

The reader is pure and linear: a reply over 2,000 characters is never read, a normalised one over
200 characters is never a rating, and no pattern below has two ways to match the same text, so
none backtracks quadratically.
"""

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import NamedTuple


class ReplyKind(StrEnum):
    """What a typed reply means for the survey waiting for it."""

    RATING = "rating"  # the person clearly gave this score: record it
    DOUBTFUL = "doubtful"  # it may be this score: ask back before recording it
    OTHER = "other"  # not a rating: show the instructions


@dataclass(frozen=True)
class ReplyReading:
    """How a typed reply reads: a rating or not, its likely score, the ticket it names."""

    kind: ReplyKind
    score: int | None = None  # set for RATING and DOUBTFUL
    ticket: int | None = None  # a ticket number the text names, when it does


class _Role(Enum):
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


class _Token(NamedTuple):
    """One word, number or sign of a reply: what it does, the number it stands for, its text."""

    role: _Role
    value: int | None
    text: str


_MAX_RAW_CHARS = 2000
_MAX_CHARS = 200
_MAX_TICKET_DIGITS = 12

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
    _Role.LEAD: "оценка оценку оценки оценкой оцениваю оценю оценил оценила оценим ставлю "
    "поставлю поставил поставила ставим поставим даю дам моя мою итог итого твердая твердую "
    "твердое уверенная уверенную заслуженная заслуженную rating rate rated score give my",
    _Role.ON: "на",
    _Role.UNIT: "балл балла баллов баллы бал бала балов звезда звезды звезд звезду звездочка "
    "звездочки звездочек звездочку star stars point points pts ка ку плюс плюсом минус минусом",
    _Role.SCALE: "из of out",
    _Role.NEUTRAL: "спасибо спасибки спс благодарю благодарим большое огромное вам всем "
    "пожалуйста thanks thank you thx ty please ок окей ok okay okey норм fine ладно понятно "
    "ясно понял поняла принято да yes ага угу очень very really so просто вполне весьма все "
    "было прошло работа работу сервис обслуживание job work service быстро долго медленно "
    "оперативно вовремя качественно вежливо грубо профессионально fast quick quickly slow "
    "slowly и а но and but я i it a the",
    _Role.HEDGE: "ну наверное наверно пожалуй думаю может быть пусть будет мб примерно где-то "
    "вроде типа бы скорее maybe probably perhaps guess think well hmm um хм эм мм ммм",
    _Role.NEGATION: "не ни нет нисколько not no never dont cant isnt wasnt",
    _Role.COUNTED: "раз раза час часа часов часу ч мин сек день дня дней дн сутки суток год "
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
_COUNTED_STEMS = tuple(_COUNTED_STEM_LIST.split())
_TICKET_STEMS = ("заявк", "тикет", "обращени", "ticket", "issue", "request")
# What may stand between a ticket word and its number: «заявка: №12345», «ticket no. 12345».
_TICKET_GAP = frozenset({":", ".", "#", "номер", "no", "number", "nr", "n"})
_TICKET_PREPOSITIONS = frozenset({"по", "за", "for", "on", "re"})
_TICKET_AND = frozenset({"и", "and", "или", "or"})
_MAX_TICKET_GAP = 3

_MARKS = {
    **dict.fromkeys(",;.!:()-|\n", (_Role.BREAK, None)),
    "?": (_Role.QUESTION, None),
    "/": (_Role.SCALE, None),
    "#": (_Role.HASH, None),
    "👍": (_Role.CLEAR, 5),
    "👎": (_Role.CLEAR, 1),
}
_FILLED_STARS = "★⭐"
_SCORES = frozenset(range(1, 6))
_OTHER_SCALES = frozenset({10, 100})

# Before NFKC: «№» would become the word «no».
_BEFORE_NFKC = {ord("№"): "#"}
_FOLDS = {
    ord("ё"): "е",
    ord("’"): "'",
    **dict.fromkeys(map(ord, "‐‑‒–—―−"), "-"),
    **dict.fromkeys(map(ord, "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), "\n"),
    # Emoji presentation selectors and skin tones only decorate the symbol before them.
    **dict.fromkeys([0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)]),
}
# Mentions and links are dropped with their text: a colleague named «Хороший» is not a rating.
_BB_QUOTED = re.compile(
    r"\[(?:user|chat|url)(?:=[^\[\]]*)?\][^\[]*\[/(?:user|chat|url)\]",
)
_BB_TAG = re.compile(r"\[/?[a-z]+(?:=[^\[\]]*)?\]")
_KEYCAP = re.compile(r"([0-9])\u20e3")
_SPACES = re.compile(r"[^\S\n]+")
_TOKEN = re.compile(
    r"(?P<number>[0-9]+(?:[.,:-][0-9]+)*)"
    r"|(?P<word>[^\W_0-9]+(?:[-'][^\W_0-9]+)*)"
    r"|(?P<stars>[★⭐☆](?: ?[★⭐☆])*)"
    r"|(?P<mark>\S|\n)"
)


def _vocabulary() -> dict[str, tuple[_Role, int | None]]:
    """Every word this module knows, with what it does in a reply."""
    vocabulary: dict[str, tuple[_Role, int | None]] = {}
    for role, words in _WORDS_BY_ROLE.items():
        vocabulary.update(dict.fromkeys(words.split(), (role, None)))
    vocabulary.update({word: (_Role.NUMBER, value) for word, value in _NUMBER_WORDS.items()})
    for role, table in (
        (_Role.SCORE, _SPELLED_SCORES),
        (_Role.CLEAR, _CLEAR_GRADES),
        (_Role.SOFT, _SOFT_GRADES),
    ):
        for score, words in table.items():
            vocabulary.update(dict.fromkeys(words.split(), (role, score)))
    return vocabulary


_VOCABULARY = _vocabulary()


def read_reply(text: str) -> ReplyReading:
    """How a typed chat reply reads: a clear rating, a doubtful one, or no rating at all."""
    reply = _normalise(text)
    if reply is None:
        return ReplyReading(ReplyKind.OTHER)
    tokens, tickets = _take_tickets(_tokens(reply))
    if len(tickets) > 1:
        return ReplyReading(ReplyKind.OTHER)
    ticket = next(iter(tickets), None)
    kind, score = _judge(tokens)
    return ReplyReading(kind, None if kind is ReplyKind.OTHER else score, ticket)


def parse_rating(text: str) -> int | None:
    """The 1–5 score a typed chat reply clearly gives, or None when it does not clearly give one."""
    reading = read_reply(text)
    return reading.score if reading.kind is ReplyKind.RATING else None


def _normalise(text: str) -> str | None:
    """The reply folded (case, width, ё, dashes) without markup, or None when it is too long."""
    if len(text) > _MAX_RAW_CHARS:
        return None
    folded = unicodedata.normalize("NFKC", text.translate(_BEFORE_NFKC)).casefold()
    folded = _BB_TAG.sub(" ", _BB_QUOTED.sub(" ", folded)).translate(_FOLDS)
    reply = _SPACES.sub(" ", _KEYCAP.sub(r" \1 ", folded)).strip()
    return reply if len(reply) <= _MAX_CHARS else None


def _tokens(reply: str) -> list[_Token]:
    """The words, numbers and signs of a normalised reply; decorations are left out."""
    tokens = (_token(match) for match in _TOKEN.finditer(reply))
    return [token for token in tokens if token is not None]


def _token(match: re.Match[str]) -> _Token | None:
    """One token with its role, or None for a decoration (quotes, smileys, «+»)."""
    text = match.group()
    if match.lastgroup == "number":
        return _number_token(text)
    if match.lastgroup == "word":
        return _word_token(text)
    if match.lastgroup == "stars":
        filled = sum(text.count(star) for star in _FILLED_STARS)
        count = filled or text.count("☆")
        return _Token(_Role.CLEAR if count in _SCORES else _Role.NUMBER, count, text)
    mark = _MARKS.get(text)
    return None if mark is None else _Token(*mark, text)


def _number_token(text: str) -> _Token:
    """A score 1–5, or another number: a longer one, a time, a date, a decimal or a range."""
    if not text.isdigit() or len(text) > _MAX_TICKET_DIGITS:
        return _Token(_Role.NUMBER, None, text)
    value = int(text)
    is_score = value in _SCORES and len(text) == 1
    return _Token(_Role.SCORE if is_score else _Role.NUMBER, value, text)


def _word_token(word: str) -> _Token:
    """A word with its role: known words first, then negations, counted things, tickets."""
    known = _VOCABULARY.get(word)
    if known is not None:
        return _Token(*known, word)
    if word.endswith("n't"):
        return _Token(_Role.NEGATION, None, word)
    if word.startswith(_COUNTED_STEMS):
        return _Token(_Role.COUNTED, None, word)
    if word.startswith(_TICKET_STEMS):
        return _Token(_Role.TICKET, None, word)
    return _Token(_Role.CONTENT, None, word)


def _take_tickets(tokens: list[_Token]) -> tuple[list[_Token], set[int]]:
    """The tokens without ticket references («по заявке №12345»), and the tickets named."""
    kept: list[_Token] = []
    tickets: set[int] = set()
    at = 0
    while at < len(tokens):
        end = _ticket_end(tokens, at)
        if end is None:
            kept.append(tokens[at])
            at += 1
            continue
        tickets.update(filter(None, map(_ticket_number, tokens[at:end])))
        if kept and kept[-1].text in _TICKET_PREPOSITIONS:
            kept.pop()
        at = end
    return kept, tickets


def _ticket_end(tokens: list[_Token], start: int) -> int | None:
    """Where a ticket reference starting at `start` ends («заявки 12 и 13»), if one starts there."""
    if tokens[start].role not in (_Role.TICKET, _Role.HASH):
        return None
    at = start + 1
    while at < len(tokens) and at - start <= _MAX_TICKET_GAP and tokens[at].text in _TICKET_GAP:
        at += 1
    if at == len(tokens) or _ticket_number(tokens[at]) is None:
        return None
    end = at + 1
    while end + 1 < len(tokens) and tokens[end].text in _TICKET_AND:
        if _ticket_number(tokens[end + 1]) is None:
            break
        end += 2
    return end


def _ticket_number(token: _Token) -> int | None:
    """The ticket number a plain number token can be, or None."""
    return token.value if token.text.isdigit() and token.value else None


class _Strength(Enum):
    """How sure a clause alone is about its score."""

    CLEAR = "clear"  # «оценка 4», «отлично»
    CLEAR_IF_FIRST = "clear if first"  # «5»: clear when it opens the reply, not after «спасибо»
    DOUBTFUL = "doubtful"  # «хорошо», «4 мастер молодец», «10/10»


class _Shape(Enum):
    """What a clause is."""

    SCORE = "score"  # a number that is a score: «5», «оценка 4», «5 - быстро»
    WORDS = "words"  # grade words and signs only: «отлично», «очень хорошо», «★★★»
    NEUTRAL = "neutral"  # thanks and the like only: «спасибо большое»
    CONTENT = "content"  # anything else: «в 5 приду», «мастер опоздал»


class _Clause(NamedTuple):
    """What one clause of a reply says: its shape, its score and how sure it is."""

    shape: _Shape
    score: int | None = None
    strength: _Strength = _Strength.DOUBTFUL
    # Every score the clause names, to catch «3 или 4»; `signs` are the clear words and symbols.
    mentions: frozenset[int] = frozenset()
    signs: frozenset[int] = frozenset()


class _Core(NamedTuple):
    """The score itself: «5», «5 5», «4 из 5», «10/10»; `end` is where it stops."""

    score: int
    end: int
    explicit: bool = False
    full_marks: bool = False


_LEADS = frozenset({_Role.LEAD, _Role.ON})
_WORDY = frozenset({*_LEADS, _Role.NEUTRAL, _Role.HEDGE, _Role.CLEAR, _Role.SOFT})
_AFTER_SCORE = _WORDY | {_Role.UNIT}
_COUNTS = frozenset({_Role.COUNTED, _Role.TICKET})
_NUMBERS = frozenset({_Role.SCORE, _Role.NUMBER})
_GRADES = frozenset({_Role.CLEAR, _Role.SOFT})
# One step less sure, for a question: «4?» is doubtful, «хорошо?» is nothing.
_LESS_SURE = {
    ReplyKind.RATING: ReplyKind.DOUBTFUL,
    ReplyKind.DOUBTFUL: ReplyKind.OTHER,
    ReplyKind.OTHER: ReplyKind.OTHER,
}


def _judge(tokens: list[_Token]) -> tuple[ReplyKind, int | None]:
    """The kind and likely score of a reply whose ticket references are already taken out."""
    clauses = [_read_clause(clause) for clause in _clauses(tokens)]
    if not clauses:
        return ReplyKind.OTHER, None
    if any(clause.shape is _Shape.SCORE for clause in clauses):
        kind, score = _judge_score(clauses)
    else:
        kind, score = _judge_words(clauses)
    if kind is ReplyKind.RATING and any(token.role is _Role.HEDGE for token in tokens):
        kind = ReplyKind.DOUBTFUL
    if any(token.role is _Role.QUESTION for token in tokens):
        kind = _LESS_SURE[kind]
    return kind, score


def _clauses(tokens: list[_Token]) -> list[list[_Token]]:
    """The reply cut at punctuation; a lone «оценка:» or «на -» joins the clause after it."""
    clauses: list[list[_Token]] = [[]]
    for token in tokens:
        if token.role in (_Role.BREAK, _Role.QUESTION):
            clauses.append([])
        elif token.role is not _Role.HASH:
            clauses[-1].append(token)
    merged: list[list[_Token]] = []
    leads: list[_Token] = []
    for clause in filter(None, clauses):
        if all(token.role in _LEADS for token in clause):
            leads.extend(clause)
        else:
            merged.append(leads + clause)
            leads = []
    return [*merged, leads] if leads else merged


def _judge_score(clauses: list[_Clause]) -> tuple[ReplyKind, int | None]:
    """A reply where a number is a score: clear when it opens the reply or is announced."""
    scored = [clause for clause in clauses if clause.shape is _Shape.SCORE]
    signed = any(clause.signs for clause in clauses)
    scores = {clause.score for clause in scored}.union(*(clause.mentions for clause in clauses))
    if len(scores) != 1:
        return ReplyKind.OTHER, None
    clear = (
        signed
        or clauses[0].strength is _Strength.CLEAR_IF_FIRST
        or any(clause.strength is _Strength.CLEAR for clause in scored)
    )
    return ReplyKind.RATING if clear else ReplyKind.DOUBTFUL, scores.pop()


def _judge_words(clauses: list[_Clause]) -> tuple[ReplyKind, int | None]:
    """A reply without a score number: only grade words, signs and thanks may be in it."""
    if any(clause.shape is _Shape.CONTENT for clause in clauses):
        return ReplyKind.OTHER, None
    scores = {clause.score for clause in clauses if clause.shape is _Shape.WORDS}
    if len(scores) != 1:
        return ReplyKind.OTHER, None
    clear = any(clause.strength is _Strength.CLEAR for clause in clauses)
    return ReplyKind.RATING if clear else ReplyKind.DOUBTFUL, scores.pop()


def _read_clause(clause: list[_Token]) -> _Clause:
    """What one clause says, and every score it names."""
    negated = any(token.role is _Role.NEGATION for token in clause)
    signs = frozenset(
        token.value for token in clause if token.role is _Role.CLEAR and token.value and not negated
    )
    mentions = frozenset(
        token.value
        for at, token in enumerate(clause)
        if token.role is _Role.SCORE and token.value and not _counts_or_scale(clause, at)
    )
    core = next((at for at, token in enumerate(clause) if token.role in _NUMBERS), None)
    if core is not None:
        reading = _read_score_clause(clause, core)
    elif negated:
        reading = _Clause(_Shape.CONTENT)
    else:
        reading = _read_words_clause(clause)
    return reading._replace(mentions=mentions | signs, signs=signs)


def _counts_or_scale(clause: list[_Token], at: int) -> bool:
    """Whether the score at `at` counts a thing («5 минут») or ends a scale («из 5»)."""
    counts = at + 1 < len(clause) and clause[at + 1].role in _COUNTS
    return counts or (at > 0 and clause[at - 1].role is _Role.SCALE)


def _read_words_clause(clause: list[_Token]) -> _Clause:
    """A clause of words only: a grade when all its grade words and signs agree."""
    if any(token.role not in _WORDY for token in clause):
        return _Clause(_Shape.CONTENT)
    grades = {token.value for token in clause if token.role in _GRADES}
    if not grades:
        return _Clause(_Shape.NEUTRAL)
    score = grades.pop()
    if grades or score is None:
        return _Clause(_Shape.CONTENT)
    # «оценка хорошо» is a grade, plain «хорошо» may be small talk.
    clear = any(token.role in (_Role.CLEAR, _Role.LEAD) for token in clause)
    return _Clause(_Shape.WORDS, score, _Strength.CLEAR if clear else _Strength.DOUBTFUL)


def _read_score_clause(clause: list[_Token], at: int) -> _Clause:
    """A clause with a number at `at`: a score unless ordinary words hold the number."""
    before = clause[:at]
    core = _read_core(clause, at)
    if core is None or any(token.role not in _WORDY for token in before):
        return _Clause(_Shape.CONTENT)
    opener = clause[core.end].role if core.end < len(clause) else None
    if opener in _COUNTS or opener in _NUMBERS:
        return _Clause(_Shape.CONTENT)
    announced = any(token.role is _Role.LEAD for token in before)
    leading = all(token.role in _LEADS for token in before)
    led = any(token.role in _LEADS for token in before)
    explicit = core.explicit or led or opener is _Role.UNIT
    safe = opener is None or opener in _AFTER_SCORE
    if core.full_marks or not (safe or announced) or not (leading or explicit):
        strength = _Strength.DOUBTFUL
    else:
        strength = _Strength.CLEAR if explicit else _Strength.CLEAR_IF_FIRST
    return _Clause(_Shape.SCORE, core.score, strength)


def _read_core(clause: list[_Token], at: int) -> _Core | None:
    """The score the number at `at` gives, with a repeat or a scale after it, if it is one."""
    first = clause[at]
    end = at + 1
    while first.role is _Role.SCORE and end < len(clause) and clause[end] == first:
        end += 1
    if end < len(clause) and clause[end].role is _Role.SCALE:
        return _read_scale(clause, at, end)
    if first.role is _Role.SCORE and first.value is not None:
        return _Core(first.value, end)
    return None


def _read_scale(clause: list[_Token], at: int, end: int) -> _Core | None:
    """«4 из 5» is a 4; «10/10» is full marks on another scale; «3 из 10» is no score."""
    while end < len(clause) and clause[end].role is _Role.SCALE:
        end += 1
    if end == len(clause) or clause[end].role not in _NUMBERS:
        return None
    score, top = clause[at].value, clause[end].value
    if top == 5 and clause[at].role is _Role.SCORE and score is not None:
        return _Core(score, end + 1, explicit=True)
    if top in _OTHER_SCALES and score == top:
        return _Core(5, end + 1, full_marks=True)
    return None
