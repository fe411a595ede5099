"""When a failed vendor call is worth repeating, and after how long.

No answer at all (a timeout, a refused or dropped connection) is always transient, and so are
the HTTP statuses that mean "not now" rather than "wrong request". A vendor that documents its
server errors (Bitrix24, bitrix24.md §7) is trusted on which ones pass; for one that documents
none (Okdesk, okdesk.md §1), every 5xx is taken as passing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from outbound.errors import TransientError

TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def transient_status(status: int, *, every_server_error: bool = False) -> bool:
    """Whether an HTTP status means "try again later"; `every_server_error` adds all 5xx."""
    return status in TRANSIENT_STATUSES or (every_server_error and status >= 500)


@contextmanager
def no_answer_is_transient(where: str) -> Iterator[None]:
    """Turn httpx's "no answer" errors into `TransientError`, naming the call, never its URL."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise TransientError(f"{where}: timed out ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise TransientError(f"{where}: unreachable ({type(exc).__name__})") from None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP-date (RFC 9110)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
        return seconds if seconds >= 0 else None
    except ValueError:
        try:
            when = parsedate_to_datetime(value.strip())
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None
