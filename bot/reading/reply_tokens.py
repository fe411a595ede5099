"""A typed reply as words, numbers and signs, with its ticket references taken out.

The reply is folded first (case, width, «ё», dashes, markup), and one over 2,000 characters, or
over 200 once folded, is not read at all. No pattern has two ways to match the same text.
"""

import re
import unicodedata

from bot.reading.reply_words import (
    COUNTED_STEMS,
    FILLED_STARS,
    MARKS,
    MAX_TICKET_GAP,
    SCORES,
    TICKET_AND,
    TICKET_GAP,
    TICKET_PREPOSITIONS,
    TICKET_STEMS,
    VOCABULARY,
    Role,
    Token,
)

_MAX_RAW_CHARS = 2000
_MAX_CHARS = 200
_MAX_TICKET_DIGITS = 12

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


def normalise(text: str) -> str | None:
    """The reply folded (case, width, ё, dashes) without markup, or None when it is too long."""
    if len(text) > _MAX_RAW_CHARS:
        return None
    folded = unicodedata.normalize("NFKC", text.translate(_BEFORE_NFKC)).casefold()
    folded = _BB_TAG.sub(" ", _BB_QUOTED.sub(" ", folded)).translate(_FOLDS)
    reply = _SPACES.sub(" ", _KEYCAP.sub(r" \1 ", folded)).strip()
    return reply if len(reply) <= _MAX_CHARS else None


def tokenise(reply: str) -> list[Token]:
    """The words, numbers and signs of a normalised reply; decorations are left out."""
    tokens = (_token(match) for match in _TOKEN.finditer(reply))
    return [token for token in tokens if token is not None]


def _token(match: re.Match[str]) -> Token | None:
    """One token with its role, or None for a decoration (quotes, smileys, «+»)."""
    text = match.group()
    if match.lastgroup == "number":
        return _number_token(text)
    if match.lastgroup == "word":
        return _word_token(text)
    if match.lastgroup == "stars":
        filled = sum(text.count(star) for star in FILLED_STARS)
        count = filled or text.count("☆")
        return Token(Role.CLEAR if count in SCORES else Role.NUMBER, count, text)
    mark = MARKS.get(text)
    return None if mark is None else Token(*mark, text)


def _number_token(text: str) -> Token:
    """A score 1–5, or another number: a longer one, a time, a date, a decimal or a range."""
    if not text.isdigit() or len(text) > _MAX_TICKET_DIGITS:
        return Token(Role.NUMBER, None, text)
    value = int(text)
    is_score = value in SCORES and len(text) == 1
    return Token(Role.SCORE if is_score else Role.NUMBER, value, text)


def _word_token(word: str) -> Token:
    """A word with its role: known words first, then negations, counted things, tickets."""
    known = VOCABULARY.get(word)
    if known is not None:
        return Token(*known, word)
    if word.endswith("n't"):
        return Token(Role.NEGATION, None, word)
    if word.startswith(COUNTED_STEMS):
        return Token(Role.COUNTED, None, word)
    if word.startswith(TICKET_STEMS):
        return Token(Role.TICKET, None, word)
    return Token(Role.CONTENT, None, word)


def take_tickets(tokens: list[Token]) -> tuple[list[Token], set[int]]:
    """The tokens without ticket references («по заявке №12345»), and the tickets named."""
    kept: list[Token] = []
    tickets: set[int] = set()
    at = 0
    while at < len(tokens):
        end = _ticket_end(tokens, at)
        if end is None:
            kept.append(tokens[at])
            at += 1
            continue
        tickets.update(filter(None, map(_ticket_number, tokens[at:end])))
        if kept and kept[-1].text in TICKET_PREPOSITIONS:
            kept.pop()
        at = end
    return kept, tickets


def _ticket_end(tokens: list[Token], start: int) -> int | None:
    """Where a ticket reference starting at `start` ends («заявки 12 и 13»), if one starts there."""
    if tokens[start].role not in (Role.TICKET, Role.HASH):
        return None
    at = start + 1
    while at < len(tokens) and at - start <= MAX_TICKET_GAP and tokens[at].text in TICKET_GAP:
        at += 1
    if at == len(tokens) or _ticket_number(tokens[at]) is None:
        return None
    end = at + 1
    while end + 1 < len(tokens) and tokens[end].text in TICKET_AND:
        if _ticket_number(tokens[end + 1]) is None:
            break
        end += 2
    return end


def _ticket_number(token: Token) -> int | None:
    """The ticket number a plain number token can be, or None."""
    return token.value if token.text.isdigit() and token.value else None
