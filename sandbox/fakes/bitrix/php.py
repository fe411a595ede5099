"""PHP as Bitrix24 speaks it: `json_encode` of arrays, error answers, loose parameter values and
the `$result[...]` references of a batch, so the fake answers byte for byte like a portal."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# HTTP status of each error code (bitrix24.md §7); anything else is a 400 method error.
ERROR_STATUS = {
    "NO_AUTH_FOUND": 401,
    "expired_token": 401,
    "ACCESS_DENIED": 403,
    "insufficient_scope": 403,
    "INVALID_CREDENTIALS": 403,
    "user_access_error": 403,
    "WRONG_AUTH_TYPE": 403,
    "CANT_EDIT_MESSAGE": 403,
    "ERROR_BATCH_METHOD_NOT_ALLOWED": 405,
    "OPERATION_TIME_LIMIT": 429,
    "INTERNAL_SERVER_ERROR": 500,
    "PORTAL_DELETED": 500,
    "QUERY_LIMIT_EXCEEDED": 503,
    "OVERLOAD_LIMIT": 503,
}
# Error code used for a queued bare HTTP status.
STATUS_ERROR = {
    401: "NO_AUTH_FOUND",
    403: "ACCESS_DENIED",
    405: "ERROR_BATCH_METHOD_NOT_ALLOWED",
    429: "OPERATION_TIME_LIMIT",
    500: "INTERNAL_SERVER_ERROR",
    503: "QUERY_LIMIT_EXCEEDED",
}
DESCRIPTIONS = {
    "QUERY_LIMIT_EXCEEDED": "Too many requests",
    "OVERLOAD_LIMIT": "REST API is blocked due to overload.",
    "OPERATION_TIME_LIMIT": "Method is blocked due to operation time limit.",
    "INTERNAL_SERVER_ERROR": "Internal server error",
    "ACCESS_DENIED": "Access denied!",
    "CANT_EDIT_MESSAGE": "Time has expired for modification or you don't have access",
    "MESSAGE_ID_ERROR": "Message not found",
    "BOT_ID_ERROR": "Bot not found",
}
_REF = re.compile(r"\$result\[([^\]]+)\]((?:\[[^\]]*\])*)")
# A PHP array key that PHP stores as an integer: a canonical decimal within int64.
_PHP_INT_KEY = re.compile(r"-?[1-9][0-9]{0,18}|0")


class BitrixError(Exception):
    """A Bitrix24 REST error answered as `{"error", "error_description"}`."""

    def __init__(self, code: str, description: str = "", status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.description = description or DESCRIPTIONS.get(code, code)
        self.status = status or ERROR_STATUS.get(code, 400)

    def body(self) -> dict[str, str]:
        """Return the JSON error body."""
        return {"error": self.code, "error_description": self.description}


@dataclass
class Answer:
    """A method's result plus list paging fields."""

    result: Any
    total: int | None = None
    next: int | None = None


def upper_keys(value: Any) -> dict[str, Any]:
    """Return a dict with upper-cased keys ({} for non-dicts)."""
    if not isinstance(value, dict):
        return {}
    return {str(key).upper(): item for key, item in value.items()}


def as_str(value: Any) -> str:
    """Read a scalar parameter as a string ("" when missing or not scalar)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value)


def as_int(value: Any) -> int | None:
    """Read an id parameter given as int or digit string."""
    text = as_str(value).strip()
    return int(text) if text.isdigit() else None


def truthy(value: Any) -> bool:
    """Read a Bitrix boolean: true, 1, "Y", "true", "1"."""
    return value is True or as_str(value).strip().upper() in {"Y", "TRUE", "1"}


def yes_no(value: Any) -> str:
    """Normalise a flag to "Y"/"N"."""
    return "Y" if truthy(value) else "N"


def php_y(value: Any) -> str:
    """A flag as IMREST reads it (`$value == 'Y'`): "Y" or JSON true, anything else is "N"."""
    return "Y" if value is True or value == "Y" else "N"


def php_truthy(value: Any) -> bool:
    """PHP's `if ($value)`: "", "0", 0, null, false and empty arrays are false; "N" is true."""
    return value not in ("", "0") if isinstance(value, str) else bool(value)


def _php_key(key: Any) -> int | str:
    """The key PHP stores: numeric strings ("7", not "07" or "+7") become integers."""
    if isinstance(key, int):
        return int(key)
    text = str(key)
    if _PHP_INT_KEY.fullmatch(text) and -(2**63) <= int(text) < 2**63:
        return int(text)
    return text


def php_json_array(mapping: Mapping[Any, Any]) -> list[Any] | dict[str, Any]:
    """PHP's `json_encode` of an array with these keys: a JSON list when the keys are exactly
    0..n-1 in order (so an empty array is `[]`), else an object keyed by the keys as text."""
    keys = [_php_key(key) for key in mapping]
    if keys == list(range(len(keys))):
        return list(mapping.values())
    return {str(key): value for key, value in zip(keys, mapping.values(), strict=True)}


def time_info(start: float, operating_reset_at: int | None) -> dict[str, Any]:
    """Build the `time` block of a REST answer."""
    now = time.time()
    return {
        "start": start,
        "finish": now,
        "duration": now - start,
        "processing": now - start,
        "date_start": datetime.fromtimestamp(start, UTC).isoformat(timespec="seconds"),
        "date_finish": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "operating_reset_at": operating_reset_at or int(now) + 600,
        "operating": 0,
    }


def method_key(name: str) -> str:
    """Normalise a method name: lower case, no leading slash, no `.json` suffix."""
    name = name.strip().strip("/").lower()
    return name.removesuffix(".json")


def resolve_refs(value: Any, results: dict[str, Any]) -> Any:
    """Replace `$result[key][i][FIELD]` references in batch parameters."""
    if isinstance(value, dict):
        return {key: resolve_refs(item, results) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_refs(item, results) for item in value]
    if not isinstance(value, str):
        return value
    return _REF.sub(lambda m: as_str(_lookup(results, m.group(1), m.group(2))), value)


def _lookup(results: dict[str, Any], key: str, path: str) -> Any:
    """Follow `[a][b]` into an earlier batch result (None when absent)."""
    node: Any = results.get(key)
    for part in re.findall(r"\[([^\]]*)\]", path):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node
