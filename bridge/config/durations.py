"""Durations as the settings take them: seconds or a number with a unit, `off` for never."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> object:
    """`90`, `30s`, `15m`, `24h`, `7d` → timedelta (other types pass through to pydantic)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value
    match = _DURATION.match(value)
    if match is None:
        raise ValueError("must be seconds or a number with a unit s, m, h or d (e.g. 24h)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def parse_optional_duration(value: object) -> object:
    """Like a duration, with `off` (or empty) meaning "never"."""
    if isinstance(value, str) and value.strip().lower() in ("off", "none", "no", "false", ""):
        return None
    return parse_duration(value)


_SPOKEN_UNITS = {
    "ru": (("д", 86400), ("ч", 3600), ("мин", 60), ("с", 1)),
    "en": (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)),
}


def spoken(delta: timedelta, language: str = "en") -> str:
    """A duration as people write it (`24 ч`, `10 min`, `90 s`): the largest whole unit, days
    from two on (a day is said `24 ч`, as the settings' own default reads)."""
    seconds = delta.total_seconds()
    units = _SPOKEN_UNITS.get(language, _SPOKEN_UNITS["en"])
    for name, size in units:
        least = 2 * size if size == 86400 else size
        if seconds >= least and float(seconds / size).is_integer():
            return f"{int(seconds // size)} {name}"
    return f"{seconds:g} {units[-1][0]}"
