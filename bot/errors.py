"""What Bitrix24 adds to the vendor error tree of `outbound.errors`.

DeliveryError                  (outbound.errors)
├── TransientError             (outbound.errors) timeouts, 429, 5xx, QUERY_LIMIT_EXCEEDED,
│   │                          OPERATION_TIME_LIMIT with `retry_after` from the portal
│   └── PortalBlockedError     Bitrix24 blocked the portal by hand (OVERLOAD_LIMIT): stop
│                              sending and probe now and then; waiting out a backoff is no use
└── RejectedError              (outbound.errors) the request itself is wrong
    └── MessageNotEditableError     Bitrix24 refuses to edit an old or foreign message
"""

from __future__ import annotations

from outbound.errors import RejectedError, TransientError


class PortalBlockedError(TransientError):
    """Bitrix24 blocked the portal's REST API by hand (OVERLOAD_LIMIT, HTTP 503).

    Not throttling: it lifts only when Bitrix24 lifts it, so the caller stops sending, alerts
    the administrator and probes with one request now and then.
    """


class MessageNotEditableError(RejectedError):
    """Bitrix24 will not edit this message any more (CANT_EDIT_MESSAGE)."""
