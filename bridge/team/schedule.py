"""When the weekly digest is due, and the week it tells of (pure: the clock is an argument).

The digest is due each week at DIGEST_AT in TIMEZONE. Its week is the seven days before the
day it is due, counted as the report page counts days, so the digest's link shows the same
figures. A digest is known by that day: the latest one due is sent, late if no worker ran at
the time, and a restart or a second replica finds it sent.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bridge.config.attention_settings import Weekly
from bridge.report.period import Period

WEEK = timedelta(days=7)


def latest_due(now: datetime, when: Weekly, zone: ZoneInfo) -> date:
    """The day (in `zone`) of the latest digest due at or before `now`."""
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - when.weekday) % 7)
    if datetime.combine(day, when.at, zone) > now:
        day -= WEEK
    return day


def week_before(due: date) -> Period:
    """The seven days before the day a digest is due: what it tells of."""
    return Period(due - WEEK, due - timedelta(days=1))
