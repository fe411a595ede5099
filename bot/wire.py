"""Bitrix24's wire format: PHP arrays run through `json_encode`, and PHP query strings.

A PHP map keyed 0..n-1 arrives as a JSON list and an empty one as `[]`, so every map is read
in both shapes. `batch` takes its sub-calls as PHP query strings and answers five per-call maps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx


@dataclass(frozen=True)
class Answer:
    """A method's `result`, with the paging fields a list answer has (`total`, `next`)."""

    result: Any
    total: int | None = None
    next: int | None = None


@dataclass(frozen=True)
class BatchParts:
    """The five per-call maps of a `batch` answer, each read from a JSON list or object."""

    result: dict[str, Any]
    error: dict[str, Any]
    total: dict[str, Any]
    next: dict[str, Any]
    time: dict[str, Any]

    @classmethod
    def read(cls, answer: Any) -> BatchParts:
        """Read `result`, `result_error`, `result_total`, `result_next` and `result_time`."""
        body = answer if isinstance(answer, dict) else {}
        names = ("result", "result_error", "result_total", "result_next", "result_time")
        return cls(*(php_map(body.get(name)) for name in names))

    def answer(self, key: str) -> Answer:
        """The sub-call's answer, when `key` is in `result`."""
        return Answer(self.result[key], count(self.total.get(key)), count(self.next.get(key)))


def php_map(value: Any) -> dict[str, Any]:
    """A PHP array as JSON gives it: a list (keys 0..n-1) or an object, keyed by string."""
    if isinstance(value, list):
        return {str(index): item for index, item in enumerate(value)}
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    return {}


def php_query(params: Mapping[str, Any], prefix: str = "") -> str:
    """Params as a PHP-style query string (`KEYBOARD[BUTTONS][0][TEXT]=1`), for `batch`.

    True is sent as "Y", which Y/N fields and PHP truthiness (ADMIN_MODE) both read as yes;
    False is "N", which PHP truthiness reads as yes too, so leave such a flag out instead.
    """
    parts: list[str] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            parts.append(php_query(value, name))
        elif isinstance(value, list | tuple):
            parts.append(php_query({str(i): item for i, item in enumerate(value)}, name))
        else:
            text = ("Y" if value else "N") if isinstance(value, bool) else str(value)
            parts.append(f"{quote(name, safe='[]')}={quote(text, safe='')}")
    return "&".join(p for p in parts if p)


def count(value: Any) -> int | None:
    """A paging number (`total`, `next`) given as an int or a digit string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdecimal() else None


def unix_time(value: Any) -> float | None:
    """A Unix time given as a number or a numeric string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def json_or_none(response: httpx.Response) -> Any:
    """The answer's JSON body; None when it is not JSON (a proxy's page, an empty body)."""
    try:
        return response.json()
    except ValueError:
        return None
