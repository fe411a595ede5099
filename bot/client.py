"""Bitrix24 REST over an incoming webhook (`https://portal/rest/<user>/<code>/<method>`).

One `BitrixClient` per process, around the app's long-lived `httpx.AsyncClient`. Every call
first takes a request from the shared `RequestBudget`, so that all replicas together stay within
the portal's limit (burst 50, 2 requests a second; reference bitrix24.md §7).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from bot.errors import MessageNotEditableError, RejectedError, TransientError, retry_after_seconds

log = logging.getLogger(__name__)

# HTTP statuses and Bitrix24 error codes that mean "not now" rather than "wrong request".
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
TRANSIENT_ERRORS = frozenset(
    {"QUERY_LIMIT_EXCEEDED", "OVERLOAD_LIMIT", "OPERATION_TIME_LIMIT", "INTERNAL_SERVER_ERROR"}
)


class RequestBudget(Protocol):
    """Waits until one more request to the portal is allowed."""

    async def acquire(self) -> None: ...


class Unlimited:
    """A budget that never waits (for tools and tests that talk to one fake)."""

    async def acquire(self) -> None:
        return None


@dataclass(frozen=True)
class BitrixUser:
    """A Bitrix24 user as `user.get` returns it."""

    id: int
    email: str
    active: bool


class BitrixClient:
    """Calls Bitrix24 REST methods and turns failures into `bot.errors`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        webhook_url: str,
        client_id: str,
        budget: RequestBudget | None = None,
    ) -> None:
        self._http = http
        self._base = webhook_url if webhook_url.endswith("/") else webhook_url + "/"
        self.client_id = client_id
        self._budget = budget or Unlimited()

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call `method` with a JSON body and return its `result`."""
        await self._budget.acquire()
        try:
            response = await self._http.post(self._base + method, json=params)
        except httpx.TimeoutException as exc:
            raise TransientError(f"Bitrix24 {method}: timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise TransientError(f"Bitrix24 {method}: unreachable ({type(exc).__name__})") from None
        return _result(method, response)

    async def find_users_by_email(self, email: str) -> list[BitrixUser]:
        """Active users whose e-mail is `email`, ignoring case.

        Bitrix24 silently drops filter keys the webhook's scope may not use (bitrix24.md §6),
        so the e-mail is checked again here rather than trusted from the filter.
        """
        result = await self.call(
            "user.get",
            {
                "FILTER": {"EMAIL": email, "ACTIVE": True},
                "select": ["ID", "EMAIL", "ACTIVE", "USER_TYPE"],
            },
        )
        wanted = email.strip().casefold()
        users = [_user(item) for item in result or [] if isinstance(item, dict)]
        return [u for u in users if u.active and u.email.strip().casefold() == wanted]

    async def bot_id_by_code(self, code: str) -> int | None:
        """The id of the portal's bot with this CODE, if it exists."""
        bots = await self.call("imbot.bot.list", {})
        # PHP serialises an empty array as [] and a filled one as an object keyed by id.
        for bot in (bots.values() if isinstance(bots, dict) else bots) or []:
            if isinstance(bot, dict) and str(bot.get("CODE")) == code:
                return int(bot["ID"])
        return None


def _user(item: dict[str, Any]) -> BitrixUser:
    active = item.get("ACTIVE")
    return BitrixUser(
        id=int(str(item.get("ID"))),
        email=str(item.get("EMAIL") or ""),
        active=active is True or str(active).upper() in ("Y", "1", "TRUE"),
    )


def _result(method: str, response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    if response.is_success and not error and isinstance(body, dict) and "result" in body:
        return body["result"]
    where = f"Bitrix24 {method}: HTTP {response.status_code} {error}".rstrip()
    if response.status_code in TRANSIENT_STATUSES or error in TRANSIENT_ERRORS:
        raise TransientError(where, retry_after_seconds(response.headers.get("Retry-After")))
    if error == "CANT_EDIT_MESSAGE":
        raise MessageNotEditableError(where)
    if response.is_redirect:
        # Redirects are not followed: the webhook URL is configuration, never a response.
        raise RejectedError(f"{where} (redirect not followed)")
    description = str(body.get("error_description", ""))[:200] if isinstance(body, dict) else ""
    raise RejectedError(f"{where} {description}".rstrip())
