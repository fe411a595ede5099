"""Bitrix24's event bodies: `application/x-www-form-urlencoded` with PHP-style keys
(`data[PARAMS][MESSAGE]=...`), unflattened into nested dicts (reference bitrix24.md §5).

Decoding is bounded (fields, depth) so that a hostile body costs little; what the fields mean
is `bot.events`' business.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

MAX_FIELDS = 200
MAX_DEPTH = 6
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)\Z")
_PART = re.compile(r"\[([^\[\]]*)\]")

Tree = dict[str, Any]


class EventFormatError(ValueError):
    """The body is not a Bitrix24 event we can read; the message says why."""


def parse_form(body: bytes) -> Tree:
    """Decode a urlencoded body and unflatten PHP-style keys into nested dicts."""
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeDecodeError:
        raise EventFormatError("the body is not UTF-8 text") from None
    except ValueError:
        raise EventFormatError(f"the body has more than {MAX_FIELDS} fields") from None
    tree: Tree = {}
    for key, value in pairs:
        _place(tree, _split_key(key), value)
    return tree


def _split_key(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        raise EventFormatError(f"malformed field name {key[:60]!r}")
    parts = [match.group(1), *_PART.findall(match.group(2))]
    if len(parts) > MAX_DEPTH:
        raise EventFormatError(f"field {key[:60]!r} is nested deeper than {MAX_DEPTH}")
    return parts


def _place(tree: Tree, parts: list[str], value: str) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise EventFormatError(f"field {part!r} is both a value and a group")
        node = child
    if isinstance(node.get(parts[-1]), dict):
        raise EventFormatError(f"field {parts[-1]!r} is both a value and a group")
    node[parts[-1]] = value
