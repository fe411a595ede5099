"""Bitrix24 REST over an incoming webhook (`https://portal/rest/<user>/<code>/<method>`).

One `BitrixClient` per process, around the app's long-lived `httpx.AsyncClient`. Every call
first takes a request from the shared `RequestBudget`, so that all replicas together stay within
the portal's limit (burst 50, 2 requests a second; reference bitrix24.md §7).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from bot.errors import (
    DeliveryError,
    MessageNotEditableError,
    RejectedError,
    TransientError,
    retry_after_seconds,
)

log = logging.getLogger(__name__)

BATCH_LIMIT = 50

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
        return _result(method, response, self._base)

    async def batch(
        self, calls: Mapping[str, tuple[str, dict[str, Any]]]
    ) -> dict[str, Any | DeliveryError]:
        """Run many calls in `batch` requests of up to 50 (each counts once for the limit).

        A failure of the whole request raises; a failed sub-call is returned as its error.
        """
        outcomes: dict[str, Any | DeliveryError] = {}
        keys = list(calls)
        for start in range(0, len(keys), BATCH_LIMIT):
            chunk = keys[start : start + BATCH_LIMIT]
            commands = {key: f"{calls[key][0]}?{php_query(calls[key][1])}" for key in chunk}
            answer = await self.call("batch", {"halt": 0, "cmd": commands})
            results = answer.get("result") if isinstance(answer, dict) else None
            errors = answer.get("result_error") if isinstance(answer, dict) else None
            results = results if isinstance(results, dict) else {}
            errors = errors if isinstance(errors, dict) else {}
            for key in chunk:
                method = calls[key][0]
                if key in results:
                    outcomes[key] = results[key]
                elif isinstance(errors.get(key), dict):
                    outcomes[key] = _sub_error(method, errors[key])
                else:
                    outcomes[key] = TransientError(f"Bitrix24 {method}: no answer in batch")
        return outcomes

    async def find_users_by_email(self, email: str) -> list[BitrixUser]:
        """Active users whose e-mail is `email`, ignoring case.

        Bitrix24 silently drops filter keys the webhook's scope may not use (bitrix24.md §6),
        so the e-mail is checked again here rather than trusted from the filter.
        """
        result = await self.call("user.get", _user_filter(email, active=True))
        return _matching(result, email)

    async def find_users_by_emails(
        self, emails: Mapping[str, str]
    ) -> dict[str, list[BitrixUser] | DeliveryError]:
        """`find_users_by_email` for many e-mails, in as few requests as possible."""
        if len(emails) == 1:
            ((key, email),) = emails.items()
            return {key: await self.find_users_by_email(email)}
        # In a batch the sub-call is a query string, where PHP reads "Y" as the flag's value.
        calls = {
            key: ("user.get", _user_filter(email, active="Y")) for key, email in emails.items()
        }
        answers = await self.batch(calls)
        return {
            key: answer if isinstance(answer, DeliveryError) else _matching(answer, emails[key])
            for key, answer in answers.items()
        }

    async def bot_id_by_code(self, code: str) -> int | None:
        """The id of the portal's bot with this CODE, if it exists."""
        bots = await self.call("imbot.bot.list", {})
        # PHP serialises an empty array as [] and a filled one as an object keyed by id.
        for bot in (bots.values() if isinstance(bots, dict) else bots) or []:
            if isinstance(bot, dict) and str(bot.get("CODE")) == code:
                return int(bot["ID"])
        return None


def _user_filter(email: str, active: object) -> dict[str, Any]:
    return {
        "FILTER": {"EMAIL": email, "ACTIVE": active},
        "select": ["ID", "EMAIL", "ACTIVE", "USER_TYPE"],
    }


def _matching(result: Any, email: str) -> list[BitrixUser]:
    wanted = email.strip().casefold()
    users = [_user(item) for item in result or [] if isinstance(item, dict)]
    return [u for u in users if u.active and u.email.strip().casefold() == wanted]


def php_query(params: Mapping[str, Any], prefix: str = "") -> str:
    """Params as a PHP-style query string (`KEYBOARD[BUTTONS][0][TEXT]=1`), for `batch`."""
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


def _sub_error(method: str, error: dict[str, Any]) -> DeliveryError:
    code = str(error.get("error", ""))
    where = f"Bitrix24 {method}: {code}"
    if code in TRANSIENT_ERRORS:
        return TransientError(where)
    if code == "CANT_EDIT_MESSAGE":
        return MessageNotEditableError(where)
    return RejectedError(f"{where} {str(error.get('error_description', ''))[:200]}".rstrip())


def _user(item: dict[str, Any]) -> BitrixUser:
    active = item.get("ACTIVE")
    return BitrixUser(
        id=int(str(item.get("ID"))),
        email=str(item.get("EMAIL") or ""),
        active=active is True or str(active).upper() in ("Y", "1", "TRUE"),
    )


def _result(method: str, response: httpx.Response, base_url: str) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = str(body.get("error") or "") if isinstance(body, dict) else ""
    if response.is_success and not error and isinstance(body, dict) and "result" in body:
        return body["result"]
    where = f"Bitrix24 {method}: HTTP {response.status_code} {error}".rstrip()
    if response.status_code in TRANSIENT_STATUSES or error in TRANSIENT_ERRORS:
        raise TransientError(where, retry_after_seconds(response.headers.get("Retry-After")))
    if error == "CANT_EDIT_MESSAGE":
        raise MessageNotEditableError(where)
    if response.is_success and not error:
        # A success without a readable result: a proxy or an overloaded portal; try later.
        raise TransientError(f"Bitrix24 {method}: HTTP {response.status_code} without a result")
    if response.is_redirect:
        # Redirects are not followed: the webhook URL is configuration, never a response.
        raise RejectedError(f"{where} (redirect not followed)")
    description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
    # The webhook's path is its secret: never let an echo of it into a stored reason.
    secret = base_url.rstrip("/").rsplit("/", 1)[-1]
    description = description.replace(base_url, "***").replace(secret, "***")[:200]
    raise RejectedError(f"{where} {description}".rstrip())
