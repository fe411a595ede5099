"""What can go wrong when we call a vendor (Bitrix24 here, Okdesk in `bridge.okdesk`).

    DeliveryError                  the call did not do what we asked
    ├── TransientError             try again later (timeouts, 429, 5xx, QUERY_LIMIT_EXCEEDED,
    │   │                          OPERATION_TIME_LIMIT with `retry_after` from the portal)
    │   └── PortalBlockedError     Bitrix24 blocked the portal by hand (OVERLOAD_LIMIT): stop
    │                              sending and probe now and then; waiting out a backoff is no use
    └── RejectedError              the request itself is wrong; retrying will not help
        └── MessageNotEditableError     Bitrix24 refuses to edit an old or foreign message

Each error carries the vendor's error `code` when the vendor named one ("" otherwise).
Messages never contain URLs or tokens: a Bitrix24 webhook URL carries its secret in its path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


class DeliveryError(Exception):
    """A vendor call did not do what we asked."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class TransientError(DeliveryError):
    """A failure that may pass: the call is retried later, never dropped."""

    def __init__(self, message: str, retry_after: float | None = None, *, code: str = "") -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PortalBlockedError(TransientError):
    """Bitrix24 blocked the portal's REST API by hand (OVERLOAD_LIMIT, HTTP 503).

    Not throttling: it lifts only when Bitrix24 lifts it, so the caller stops sending, alerts
    the administrator and probes with one request now and then.
    """


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
