"""What can go wrong when we call a vendor, whichever vendor it is.

    DeliveryError          the call did not do what we asked
    ├── TransientError     try again later (no answer, 429, 5xx, a vendor's "not now" code),
    │                      after `retry_after` seconds when the vendor said how long
    └── RejectedError      the request itself is wrong; retrying will not help

Vendor clients may refine these (Bitrix24's are in `bot.errors`). Each error carries the
vendor's error `code` when the vendor named one ("" otherwise). Messages never contain URLs
or tokens: a Bitrix24 webhook URL carries its secret in its path, an Okdesk URL in its query.
"""

from __future__ import annotations


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


class RejectedError(DeliveryError):
    """The vendor refused the request as wrong; repeating it would be refused again."""
