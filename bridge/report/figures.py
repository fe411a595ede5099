"""The report's figures from the rows `storage.reading.report` reads (pure: no database, no HTML).

CSAT is the share of 4 and 5 among the ratings people gave; automatic ratings never count.
The response rate is people's ratings over invitations delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from storage.reading.report import Day, Team, Totals


@dataclass(frozen=True)
class Score:
    """People's ratings of a group of surveys: how many, CSAT, mean (None without ratings)."""

    ratings: int
    csat: float | None
    mean: float | None


@dataclass(frozen=True)
class Week:
    """People's ratings of one ISO week (`monday` names it)."""

    monday: date
    score: Score

    def label(self, language: str) -> str:
        """The week by its dates: `02.03–08.03.2026` (ru), `Mar 2–Mar 8, 2026` (en)."""
        sunday = self.monday + timedelta(days=6)
        if language == "en":
            return f"{self.short(language)}–{_english(sunday)}, {sunday.year}"
        return f"{self.monday:%d.%m}–{sunday:%d.%m.%Y}"

    def short(self, language: str) -> str:
        """The week's Monday for the chart's axis: `02.03` (ru), `Mar 2` (en)."""
        return _english(self.monday) if language == "en" else f"{self.monday:%d.%m}"


def _english(day: date) -> str:
    return f"{_MONTHS[day.month - 1]} {day.day}"


_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@dataclass(frozen=True)
class Row:
    """One line of the per-engineer or per-group table."""

    name: str | None
    score: Score


@dataclass(frozen=True)
class Overview:
    """The period's headline figures."""

    score: Score
    distribution: dict[int, int]
    human: int
    automatic: int
    delivered: int
    surveys: int
    response_rate: float | None


def score(ratings: int, good: int, score_sum: int) -> Score:
    """CSAT and mean of `ratings` people's ratings, `good` of them 4 or 5."""
    if ratings == 0:
        return Score(0, None, None)
    return Score(ratings, good / ratings, score_sum / ratings)


def overview(totals: Totals) -> Overview:
    """The headline figures of a period's totals."""
    human = sum(totals.by_score.values())
    good = totals.by_score[4] + totals.by_score[5]
    score_sum = sum(s * n for s, n in totals.by_score.items())
    rate = human / totals.delivered if totals.delivered else None
    return Overview(
        score(human, good, score_sum),
        dict(totals.by_score),
        human,
        totals.automatic,
        totals.delivered,
        totals.surveys,
        rate,
    )


def weeks(days: Sequence[Day], first: date, last: date) -> list[Week]:
    """Every ISO week touching the period, with the ratings of its days (empty weeks too)."""
    monday = first - timedelta(days=first.weekday())
    counts: dict[date, tuple[int, int]] = {}
    while monday <= last:
        counts[monday] = (0, 0)
        monday += timedelta(days=7)
    for day in days:
        key = day.day - timedelta(days=day.day.weekday())
        ratings, good = counts.get(key, (0, 0))
        counts[key] = (ratings + day.ratings, good + day.good)
    # The trend shows CSAT and the number of ratings, not the mean.
    return [Week(m, Score(r, g / r if r else None, None)) for m, (r, g) in sorted(counts.items())]


def table(teams: Sequence[Team]) -> list[Row]:
    """The rows of a per-engineer or per-group table, in the order read."""
    return [Row(t.name, score(t.ratings, t.good, t.score_sum)) for t in teams]
