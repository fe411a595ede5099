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
- a formula or a sum: «=1+1», «=5», «2*2», «5=5», «3 + 1» (a spreadsheet would run it, and
  nobody rates by arithmetic);
- anything longer than 200 characters once markup is dropped.

A ticket reference, «заявка 12345», «№12345», «#12345», names the ticket the reply is about: it is
reported whatever the kind («№12345 — 4» is a clear 4 for ticket 12345), and a reply naming two
different tickets is not a rating at all.

The reader is pure and linear: a reply over 2,000 characters is never read, a normalised one over
200 characters is never a rating, and no pattern (`bot.reading.reply_tokens`) has two ways to
match the same text, so none backtracks quadratically. The words it knows are in
`bot.reading.reply_words`.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.reading.reply_clauses import Clause, Shape, Strength, read_clause, split_clauses
from bot.reading.reply_tokens import normalise, take_tickets, tokenise
from bot.reading.reply_words import Role, Token


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


def read_reply(text: str) -> ReplyReading:
    """How a typed chat reply reads: a clear rating, a doubtful one, or no rating at all."""
    reply = normalise(text)
    if reply is None:
        return ReplyReading(ReplyKind.OTHER)
    if _FORMULA.search(reply):
        return ReplyReading(ReplyKind.OTHER)
    tokens, tickets = take_tickets(tokenise(reply))
    if len(tickets) > 1:
        return ReplyReading(ReplyKind.OTHER)
    ticket = next(iter(tickets), None)
    kind, score = _judge(tokens)
    return ReplyReading(kind, None if kind is ReplyKind.OTHER else score, ticket)


# A reply that opens like a spreadsheet formula, or does arithmetic between numbers. «/» is not
# here: «5/5» and «10/10» are ratings.
_FORMULA = re.compile(r"^[=@]|[0-9]\s*[=+*×÷^]\s*[0-9]")


def parse_rating(text: str) -> int | None:
    """The 1–5 score a typed chat reply clearly gives, or None when it does not clearly give one."""
    reading = read_reply(text)
    return reading.score if reading.kind is ReplyKind.RATING else None


# One step less sure, for a question: «4?» is doubtful, «хорошо?» is nothing.
_LESS_SURE = {
    ReplyKind.RATING: ReplyKind.DOUBTFUL,
    ReplyKind.DOUBTFUL: ReplyKind.OTHER,
    ReplyKind.OTHER: ReplyKind.OTHER,
}


def _judge(tokens: list[Token]) -> tuple[ReplyKind, int | None]:
    """The kind and likely score of a reply whose ticket references are already taken out."""
    clauses = [read_clause(clause) for clause in split_clauses(tokens)]
    if not clauses:
        return ReplyKind.OTHER, None
    if any(clause.shape is Shape.SCORE for clause in clauses):
        kind, score = _judge_score(clauses)
    else:
        kind, score = _judge_words(clauses)
    if kind is ReplyKind.RATING and any(token.role is Role.HEDGE for token in tokens):
        kind = ReplyKind.DOUBTFUL
    if any(token.role is Role.QUESTION for token in tokens):
        kind = _LESS_SURE[kind]
    return kind, score


def _judge_score(clauses: list[Clause]) -> tuple[ReplyKind, int | None]:
    """A reply where a number is a score: clear when it opens the reply or is announced."""
    scored = [clause for clause in clauses if clause.shape is Shape.SCORE]
    signed = any(clause.signs for clause in clauses)
    scores = {clause.score for clause in scored}.union(*(clause.mentions for clause in clauses))
    if len(scores) != 1:
        return ReplyKind.OTHER, None
    clear = (
        signed
        or clauses[0].strength is Strength.CLEAR_IF_FIRST
        or any(clause.strength is Strength.CLEAR for clause in scored)
    )
    return ReplyKind.RATING if clear else ReplyKind.DOUBTFUL, scores.pop()


def _judge_words(clauses: list[Clause]) -> tuple[ReplyKind, int | None]:
    """A reply without a score number: only grade words, signs and thanks may be in it."""
    if any(clause.shape is Shape.CONTENT for clause in clauses):
        return ReplyKind.OTHER, None
    scores = {clause.score for clause in clauses if clause.shape is Shape.WORDS}
    if len(scores) != 1:
        return ReplyKind.OTHER, None
    clear = any(clause.strength is Strength.CLEAR for clause in clauses)
    return ReplyKind.RATING if clear else ReplyKind.DOUBTFUL, scores.pop()


# What a bare score is made of: «5», «оценка 5», «5 баллов», «4 из 5», «№12345 — 4», stars.
_BARE = frozenset(
    {
        Role.SCORE,
        Role.NUMBER,
        Role.LEAD,
        Role.ON,
        Role.UNIT,
        Role.SCALE,
        Role.BREAK,
        Role.QUESTION,
        Role.TICKET,
        Role.HASH,
    }
)


def carries_words(text: str | None) -> bool:
    """Whether a typed reply says something beyond a score: «5» and «оценка 5» do not, «5,
    спасибо» and «отлично» do (a grade sign such as ★★★★☆ or 👍 is no words either)."""
    if not text or not text.strip():
        return False
    reply = normalise(text)
    if reply is None:  # too long to be a bare score
        return True
    tokens, _ = take_tickets(tokenise(reply))
    return any(
        token.role not in _BARE and not (token.role is Role.CLEAR and not _has_letters(token.text))
        for token in tokens
    )


def _has_letters(text: str) -> bool:
    return any(character.isalpha() for character in text)
