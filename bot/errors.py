"""What can go wrong when we call a vendor (Bitrix24 here, Okdesk in `bridge.okdesk`).

    DeliveryError                  the call did not do what we asked
    ├── TransientError             try again later (timeouts, 429, 5xx, QUERY_LIMIT_EXCEEDED)
    └── RejectedError              the request itself is wrong; retrying will not help
        └── MessageNotEditableError     Bitrix24 refuses to edit an old or foreign message

Messages never contain URLs or tokens: a Bitrix24 webhook URL carries its secret in its path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class DeliveryError(Exception):
    """A vendor call did not do what we asked."""


class TransientError(DeliveryError):
    """A failure that may pass: the call is retried later, never dropped."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(DeliveryError):
    """The vendor refused the request as wrong; repeating it would be refused again."""


class MessageNotEditableError(RejectedError):
    """Bitrix24 will not edit this message any more (CANT_EDIT_MESSAGE)."""


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
