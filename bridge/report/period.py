"""The period a report covers: `?from=YYYY-MM-DD&to=YYYY-MM-DD`, both days included (UTC)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

DEFAULT_DAYS = 30
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A longer period is refused: it says nothing a year's does not, and costs more to read.
LONGEST = timedelta(days=3 * 366)
# Days a report can be about: the day after the last must exist (9999-12-31 was a 500).
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


class PeriodError(ValueError):
    """The query's dates cannot be read or make no period: `key` names the reason among the
    page's texts (`bridge.report.html.texts`), `field` the date it is about."""

    def __init__(self, message: str, key: str, field: str = "") -> None:
        super().__init__(message)
        self.key, self.field = key, field


@dataclass(frozen=True)
class Period:
    """From the first to the last day, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first moment of the period (UTC)."""
        return datetime.combine(self.first, time(), UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the period (UTC)."""
        return datetime.combine(self.last + timedelta(days=1), time(), UTC)

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        days = self.last - self.first + timedelta(days=1)
        return Period(self.first - days, self.first - timedelta(days=1))

    def query(self) -> str:
        """The period as the page's query string."""
        return f"from={self.first.isoformat()}&to={self.last.isoformat()}"


def _day(value: str, name: str) -> date:
    try:
        if _ISO_DAY.fullmatch(value) is None:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise PeriodError(
            f"{name} must be a date YYYY-MM-DD, e.g. 2026-03-01", "bad_day", name
        ) from None
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(f"{name} must be between {EARLIEST} and {LATEST}", "far_day", name)
    return day


def parse_period(first: str | None, last: str | None, today: date) -> Period:
    """The period of the query; missing dates mean the last 30 days up to today."""
    end = _day(last, "to") if last else today
    begin = _day(first, "from") if first else max(EARLIEST, end - timedelta(DEFAULT_DAYS - 1))
    if begin > end:
        raise PeriodError("from must not be after to", "backwards")
    if end - begin > LONGEST:
        raise PeriodError("the period must not be longer than three years", "too_long")
    return Period(begin, end)
