"""Turn a typed Bitrix24 chat reply into a 1–5 ticket rating."""

import re
import unicodedata

_SCORE_WORDS = {
    5: "отлично отличный отличная отличное превосходно excellent great perfect",
    4: "хорошо хороший хорошая хорошее good",
    3: "нормально норм нормальный нормальная нормальное удовлетворительно "
    "ok okay ок окей fine normal",
    2: "плохо плохой плохая плохое bad poor",
    1: "ужасно ужасный ужасная ужасное отвратительно terrible awful horrible",
}
_WORD_SCORES = {word: score for score, words in _SCORE_WORDS.items() for word in words.split()}
_NEGATIONS = frozenset({"не", "ни", "нет", "not", "no", "never"})
_SCORES = frozenset(range(1, 6))
_VALID_DIGITS = frozenset(str(n) for n in _SCORES)
_THUMBS = {"👍": 5, "👎": 1}
_FILLED_STARS = "★⭐"
_HOLLOW_STAR = "☆"
# A score word buried in a longer message is chatter about something else, not a rating.
_MAX_WORDS = 6

# Mentions are dropped with their text: a colleague named "Хороший" is not a rating.
_BB_MENTION = re.compile(r"\[(?:user|chat)=[^\[\]]*\][^\[]*\[/(?:user|chat)\]")
_BB_TAG = re.compile(r"\[/?[a-z]+(?:=[^\[\]]*)?\]")
_KEYCAP = re.compile(r"([0-9])\u20e3")
# Emoji presentation selector and skin tones only decorate the symbol before them.
_DECORATIONS = dict.fromkeys([0xFE0F, *range(0x1F3FB, 0x1F400)])
# The lookbehind stops a long digit run from being retried at every position (quadratic time).
_OUT_OF = re.compile(r"(?<![0-9])([0-9]+)\s*(?:/|из|(?:out\s+)?of)\s*([0-9]+)")
_NUMBER = re.compile(r"[0-9]+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_ANY_WORD = re.compile(r"\w+")
_LEADING_SCORE = re.compile(r"\W*(?:(?:оценка|rating|score)\W*)?(?:[1-5]|[★☆⭐])")


def parse_rating(text: str) -> int | None:
    """The 1–5 score a typed chat reply expresses, or None when it is not a rating."""
    reply = _normalise(text)
    if "?" in reply:
        return None
    is_long = len(_ANY_WORD.findall(reply)) > _MAX_WORDS
    numeric = _numeric_scores(reply)
    if numeric is None:
        return None
    if numeric:
        # An explicit number outranks words: "5 - плохо объяснили, но починили" is a 5.
        return None if is_long and not _LEADING_SCORE.match(reply) else _only(numeric)
    return None if is_long else _sentiment_score(reply)


def _normalise(text: str) -> str:
    """Fold case, width, ё and emoji variants, and drop Bitrix BB codes."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    folded = _BB_TAG.sub(" ", _BB_MENTION.sub(" ", folded))
    folded = folded.translate(_DECORATIONS)
    return _OUT_OF.sub(_drop_scale_of_five, _KEYCAP.sub(r" \1 ", folded))


def _drop_scale_of_five(match: re.Match[str]) -> str:
    """Rewrite "4/5" as "4"; keep any other scale so its numbers spoil the reply."""
    score, scale = match.groups()
    return f" {score} " if scale == "5" else f" {score} {scale} "


def _numeric_scores(reply: str) -> set[int] | None:
    """Scores given as digits or stars; None when a number or star count is out of range."""
    numbers = _NUMBER.findall(reply)
    if any(number not in _VALID_DIGITS for number in numbers):
        return None
    scores = {int(number) for number in numbers}
    filled = sum(reply.count(star) for star in _FILLED_STARS)
    stars = filled or reply.count(_HOLLOW_STAR)
    if stars:
        if stars not in _SCORES:
            return None
        scores.add(stars)
    return scores


def _sentiment_score(reply: str) -> int | None:
    """Score from rating words and thumbs; None when negated or contradictory."""
    words = _WORD.findall(reply)
    if any(word in _NEGATIONS or word.endswith(("n't", "n’t")) for word in words):
        return None
    scores = {_WORD_SCORES[word] for word in words if word in _WORD_SCORES}
    scores.update(score for thumb, score in _THUMBS.items() if thumb in reply)
    return _only(scores)


def _only(scores: set[int]) -> int | None:
    """The single agreed score, or None when there is none or they disagree."""
    return next(iter(scores)) if len(scores) == 1 else None
