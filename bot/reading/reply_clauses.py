"""What each clause of a typed reply says: a score, grade words, thanks, or other content.

A reply is cut into clauses at punctuation; each clause is read alone, with every score it
names, and `bot.reading.replies` judges the reply from its clauses.
"""

from enum import Enum
from typing import NamedTuple

from bot.reading.reply_words import OTHER_SCALES, Role, Token


class Strength(Enum):
    """How sure a clause alone is about its score."""

    CLEAR = "clear"  # «оценка 4», «отлично»
    CLEAR_IF_FIRST = "clear if first"  # «5»: clear when it opens the reply, not after «спасибо»
    DOUBTFUL = "doubtful"  # «хорошо», «4 мастер молодец», «10/10»


class Shape(Enum):
    """What a clause is."""

    SCORE = "score"  # a number that is a score: «5», «оценка 4», «5 - быстро»
    WORDS = "words"  # grade words and signs only: «отлично», «очень хорошо», «★★★»
    NEUTRAL = "neutral"  # thanks and the like only: «спасибо большое»
    CONTENT = "content"  # anything else: «в 5 приду», «мастер опоздал»


class Clause(NamedTuple):
    """What one clause of a reply says: its shape, its score and how sure it is."""

    shape: Shape
    score: int | None = None
    strength: Strength = Strength.DOUBTFUL
    # Every score the clause names, to catch «3 или 4»; `signs` are the clear words and symbols.
    mentions: frozenset[int] = frozenset()
    signs: frozenset[int] = frozenset()


class _Core(NamedTuple):
    """The score itself: «5», «5 5», «4 из 5», «10/10»; `end` is where it stops."""

    score: int
    end: int
    explicit: bool = False
    full_marks: bool = False


_LEADS = frozenset({Role.LEAD, Role.ON})
_WORDY = frozenset({*_LEADS, Role.NEUTRAL, Role.HEDGE, Role.CLEAR, Role.SOFT})
_AFTER_SCORE = _WORDY | {Role.UNIT}
_COUNTS = frozenset({Role.COUNTED, Role.TICKET})
_NUMBERS = frozenset({Role.SCORE, Role.NUMBER})
_GRADES = frozenset({Role.CLEAR, Role.SOFT})


def split_clauses(tokens: list[Token]) -> list[list[Token]]:
    """The reply cut at punctuation; a lone «оценка:» or «на -» joins the clause after it."""
    clauses: list[list[Token]] = [[]]
    for token in tokens:
        if token.role in (Role.BREAK, Role.QUESTION):
            clauses.append([])
        elif token.role is not Role.HASH:
            clauses[-1].append(token)
    merged: list[list[Token]] = []
    leads: list[Token] = []
    for clause in filter(None, clauses):
        if all(token.role in _LEADS for token in clause):
            leads.extend(clause)
        else:
            merged.append(leads + clause)
            leads = []
    return [*merged, leads] if leads else merged


def read_clause(clause: list[Token]) -> Clause:
    """What one clause says, and every score it names."""
    negated = any(token.role is Role.NEGATION for token in clause)
    signs = frozenset(
        token.value for token in clause if token.role is Role.CLEAR and token.value and not negated
    )
    mentions = frozenset(
        token.value
        for at, token in enumerate(clause)
        if token.role is Role.SCORE and token.value and not _counts_or_scale(clause, at)
    )
    core = next((at for at, token in enumerate(clause) if token.role in _NUMBERS), None)
    if core is not None:
        reading = _read_score_clause(clause, core)
    elif negated:
        reading = Clause(Shape.CONTENT)
    else:
        reading = _read_words_clause(clause)
    return reading._replace(mentions=mentions | signs, signs=signs)


def _counts_or_scale(clause: list[Token], at: int) -> bool:
    """Whether the score at `at` counts a thing («5 минут») or ends a scale («из 5»)."""
    counts = at + 1 < len(clause) and clause[at + 1].role in _COUNTS
    return counts or (at > 0 and clause[at - 1].role is Role.SCALE)


def _read_words_clause(clause: list[Token]) -> Clause:
    """A clause of words only: a grade when all its grade words and signs agree."""
    if any(token.role not in _WORDY for token in clause):
        return Clause(Shape.CONTENT)
    grades = {token.value for token in clause if token.role in _GRADES}
    if not grades:
        return Clause(Shape.NEUTRAL)
    score = grades.pop()
    if grades or score is None:
        return Clause(Shape.CONTENT)
    # «оценка хорошо» is a grade, plain «хорошо» may be small talk.
    clear = any(token.role in (Role.CLEAR, Role.LEAD) for token in clause)
    return Clause(Shape.WORDS, score, Strength.CLEAR if clear else Strength.DOUBTFUL)


def _read_score_clause(clause: list[Token], at: int) -> Clause:
    """A clause with a number at `at`: a score unless ordinary words hold the number."""
    before = clause[:at]
    core = _read_core(clause, at)
    if core is None or any(token.role not in _WORDY for token in before):
        return Clause(Shape.CONTENT)
    opener = clause[core.end].role if core.end < len(clause) else None
    if opener in _COUNTS or opener in _NUMBERS:
        return Clause(Shape.CONTENT)
    announced = any(token.role is Role.LEAD for token in before)
    leading = all(token.role in _LEADS for token in before)
    led = any(token.role in _LEADS for token in before)
    explicit = core.explicit or led or opener is Role.UNIT
    safe = opener is None or opener in _AFTER_SCORE
    if core.full_marks or not (safe or announced) or not (leading or explicit):
        strength = Strength.DOUBTFUL
    else:
        strength = Strength.CLEAR if explicit else Strength.CLEAR_IF_FIRST
    return Clause(Shape.SCORE, core.score, strength)


def _read_core(clause: list[Token], at: int) -> _Core | None:
    """The score the number at `at` gives, with a repeat or a scale after it, if it is one."""
    first = clause[at]
    end = at + 1
    while first.role is Role.SCORE and end < len(clause) and clause[end] == first:
        end += 1
    if end < len(clause) and clause[end].role is Role.SCALE:
        return _read_scale(clause, at, end)
    if first.role is Role.SCORE and first.value is not None:
        return _Core(first.value, end)
    return None


def _read_scale(clause: list[Token], at: int, end: int) -> _Core | None:
    """«4 из 5» is a 4; «10/10» is full marks on another scale; «3 из 10» is no score."""
    while end < len(clause) and clause[end].role is Role.SCALE:
        end += 1
    if end == len(clause) or clause[end].role not in _NUMBERS:
        return None
    score, top = clause[at].value, clause[end].value
    if top == 5 and clause[at].role is Role.SCORE and score is not None:
        return _Core(score, end + 1, explicit=True)
    if top in OTHER_SCALES and score == top:
        return _Core(5, end + 1, full_marks=True)
    return None
