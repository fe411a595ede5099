"""The one way tests send what the vendors send: Okdesk's webhooks and Bitrix24's events.

The requests are built here once, whatever carries them: the in-process app's async client,
a blocking portal, or plain HTTP to a service process. `post` is that carrier; what it returns
(a response, or an awaitable of one) is what the senders return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from harness.constants import CLIENT_ID, EVENTS_TOKEN, PORTAL_DOMAIN, WEBHOOK_TOKEN

R = TypeVar("R")

WEBHOOK = "/api/v1/okdesk/webhook"
EVENTS = "/api/v1/bitrix/events"
JSON_TYPE = {"content-type": "application/json"}
FORM_TYPE = {"content-type": "application/x-www-form-urlencoded"}


class Senders(Generic[R]):
    """Posts webhooks as Okdesk does and events as Bitrix24 does through `post`.

    `portal` is the domain the events name (the fake portal's host when the service runs as
    a process); `client_id` is the bot's CLIENT_ID Bitrix24 appends to the handler URL.
    """

    def __init__(
        self, post: Callable[..., R], *, portal: str = PORTAL_DOMAIN, client_id: str = CLIENT_ID
    ) -> None:
        self.post = post
        self.portal = portal
        self.client_id = client_id

    def webhook(
        self,
        payload: Any,
        *,
        token: str | None = WEBHOOK_TOKEN,
        path: str = "webhook",
        in_header: bool = False,
    ) -> R:
        """POST an Okdesk webhook (JSON; raw bytes are sent as they are) with the secret in the
        URL, or in the X-Webhook-Token header; no secret at all when `token` is None."""
        params = {"token": token} if token is not None and not in_header else {}
        headers = {"X-Webhook-Token": token} if token is not None and in_header else {}
        url = f"/api/v1/okdesk/{path}"
        if isinstance(payload, bytes):
            return self.post(url, params=params, content=payload, headers={**JSON_TYPE, **headers})
        return self.post(url, params=params, json=payload, headers=headers)

    def event(self, body: bytes, *, token: str | None = EVENTS_TOKEN) -> R:
        """POST a Bitrix24 event (form-encoded, CLIENT_ID appended to the handler URL), naming
        our portal and our bot; no URL parameters at all when `token` is None."""
        body = body.replace(PORTAL_DOMAIN.encode(), self.portal.encode())
        body = body.replace(CLIENT_ID.encode(), self.client_id.encode())
        query = {"token": token, "CLIENT_ID": self.client_id} if token is not None else {}
        return self.post(EVENTS, params=query, content=body, headers=FORM_TYPE)
