"""Bitrix24 REST over an incoming webhook (`https://portal/rest/<user>/<code>/<method>`).

One `BitrixClient` per process, around the app's long-lived `httpx.AsyncClient`. Every call
first takes a request from the shared `RequestBudget`, so that all replicas together stay within
the portal's limit (burst 50, 2 requests a second; reference bitrix24.md §7), and is reported
to an optional `outbound.observe.CallObserver` (the method's name, never the webhook URL).

Bitrix24 answers with PHP arrays run through `json_encode`: a map keyed 0..n-1 arrives as a JSON
list and an empty one as `[]` (`bot.wire`). So `batch` names its sub-calls `c0`, `c1`, ... (never
numeric, whatever the caller's keys) and still reads every per-call map in both shapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from bot.errors import MessageNotEditableError, PortalBlockedError
from bot.settings import BotSettings
from bot.users import BitrixUser, user_query, users_with_email
from bot.v2.pacing import Paced
from bot.wire import Answer, BatchParts, count, json_or_none, php_map, php_query, unix_time
from outbound.errors import DeliveryError, RejectedError, TransientError
from outbound.observe import CallObserver, observed
from outbound.transient import no_answer_is_transient, retry_after_seconds, transient_status

T = TypeVar("T")

BATCH_LIMIT = 50
# Wait on OPERATION_TIME_LIMIT when no answer told when the method's time budget resets.
OPERATION_LIMIT_BACKOFF = 60.0

# Bitrix24 error codes that mean "not now" rather than "wrong request".
PORTAL_BLOCKED = "OVERLOAD_LIMIT"
OPERATION_LIMIT = "OPERATION_TIME_LIMIT"
LIMIT_EXCEEDED = "QUERY_LIMIT_EXCEEDED"
TRANSIENT_ERRORS = frozenset(
    {LIMIT_EXCEEDED, "INTERNAL_SERVER_ERROR", PORTAL_BLOCKED, OPERATION_LIMIT}
)


class RequestBudget(Protocol):
    """Waits until one more request to the portal is allowed, and hears when the portal
    refused one for its limit (QUERY_LIMIT_EXCEEDED: the budget's count was too kind)."""

    async def acquire(self) -> None: ...

    async def refused(self) -> None: ...


class Unlimited:
    """A budget that never waits (for tools and tests that talk to one fake)."""

    async def acquire(self) -> None:
        return None

    async def refused(self) -> None:
        return None


def webhook_client(http: httpx.AsyncClient, settings: BotSettings) -> BitrixClient:
    """A portal's client for a command's few calls (register, check, add, remove): outside the
    shared budget (its burst of 50 is room enough), paced on imbot.v2."""
    secret = settings.bitrix_client_id.get_secret_value()
    paced = Paced() if settings.bitrix_api == "v2" else None
    return BitrixClient(http, settings.bitrix_webhook_url, secret, paced)


# Answers that say "this is not a token we accept" (bitrix24.md §5, §7).
_NOT_A_TOKEN = frozenset(
    {"expired_token", "invalid_token", "NO_AUTH_FOUND", "INVALID_CREDENTIALS", "WRONG_AUTH_TYPE"}
)


class BitrixClient:
    """Calls Bitrix24 REST methods and turns failures into `outbound.errors` and `bot.errors`.

    It remembers `time.operating_reset_at` of every successful answer, per method, to say how
    long an OPERATION_TIME_LIMIT lasts.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        webhook_url: str,
        client_id: str,
        budget: RequestBudget | None = None,
        *,
        clock: Callable[[], float] = time.time,
        observer: CallObserver | None = None,
    ) -> None:
        self._http = http
        self._base = webhook_url if webhook_url.endswith("/") else webhook_url + "/"
        self.client_id = client_id
        self._budget = budget or Unlimited()
        self._clock = clock
        self._observer = observer
        self._resets: dict[str, float] = {}
        self._last_reset: float | None = None

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Call `method` with a JSON body and return its `result` (imbot.* get CLIENT_ID)."""
        return (await self.answer(method, params)).result

    async def answer(self, method: str, params: dict[str, Any], *, paid: bool = False) -> Answer:
        """Call `method` and return its whole answer; `paid`: `take_budget` granted it already."""
        body = self._with_client_id(method, params)
        return await self._post(method, self._base + method, body, self._read, paid=paid)

    async def take_budget(self) -> None:
        """Wait until the portal's budget grants one request (then sent with `paid=True`)."""
        await self._budget.acquire()

    def _read(self, method: str, response: httpx.Response) -> Answer:
        answer = json_or_none(response)
        readable = isinstance(answer, dict) and "result" in answer and not answer.get("error")
        if not (response.is_success and readable):
            raise self._failure(method, response, answer)
        self._remember(method, answer.get("time"))
        return Answer(answer["result"], count(answer.get("total")), count(answer.get("next")))

    async def _post(
        self,
        method: str,
        url: str,
        body: dict[str, Any],
        read: Callable[[str, httpx.Response], T],
        *,
        paid: bool = False,
    ) -> T:
        """One request within the portal's budget, read by `read`; no answer at all is a
        TransientError. The observer sees its time (not the wait for the budget) and outcome.
        The portal's own refusal for its limit is told to the budget."""
        if not paid:
            await self._budget.acquire()
        try:
            with observed(self._observer, "bitrix24", method):
                with no_answer_is_transient(f"Bitrix24 {method}"):
                    response = await self._http.post(url, json=body)
                return read(method, response)
        except TransientError as exc:
            if exc.code == LIMIT_EXCEEDED:
                await self._budget.refused()
            raise

    def _with_client_id(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Every imbot.* call carries CLIENT_ID; never imbot.v2's (read as botToken, v2 §1)."""
        lower = method.lower()
        if lower.startswith("imbot.") and "CLIENT_ID" not in params and ".v2." not in lower:
            return {**params, "CLIENT_ID": self.client_id}
        return params

    def _remember(self, method: str, timing: Any) -> None:
        reset = unix_time(timing.get("operating_reset_at")) if isinstance(timing, dict) else None
        if reset is not None:
            self._resets[method] = reset
            self._last_reset = reset

    def _operating_wait(self, method: str, header: float | None) -> float:
        """Seconds until the method's time budget resets (bitrix24.md §7)."""
        reset = self._resets.get(method, self._last_reset)
        now = self._clock()
        if reset is not None and reset > now:
            return reset - now
        return header if header is not None else OPERATION_LIMIT_BACKOFF

    def _transient(
        self, method: str, where: str, code: str, header: float | None
    ) -> TransientError:
        if code == PORTAL_BLOCKED:
            return PortalBlockedError(
                f"{where}: Bitrix24 blocked the portal's REST API by hand; "
                "its administrator must ask Bitrix24 support to lift it",
                code=code,
            )
        if code == OPERATION_LIMIT:
            return TransientError(where, self._operating_wait(method, header), code=code)
        return TransientError(where, header, code=code)

    def _failure(self, method: str, response: httpx.Response, body: Any) -> DeliveryError:
        error = str(body.get("error") or "") if isinstance(body, dict) else ""
        where = f"Bitrix24 {method}: HTTP {response.status_code} {error}".rstrip()
        if transient_status(response.status_code) or error in TRANSIENT_ERRORS:
            header = retry_after_seconds(response.headers.get("Retry-After"))
            return self._transient(method, where, error, header)
        if error == "CANT_EDIT_MESSAGE":
            return MessageNotEditableError(where, code=error)
        if response.is_success and not error:
            # A success without a readable result: a proxy or an overloaded portal; try later.
            return TransientError(
                f"Bitrix24 {method}: HTTP {response.status_code} without a result"
            )
        if response.is_redirect:
            # Redirects are not followed: the webhook URL is configuration, never a response.
            return RejectedError(f"{where} (redirect not followed)", code=error)
        description = str(body.get("error_description") or "") if isinstance(body, dict) else ""
        return RejectedError(f"{where} {self._scrub(description)}".rstrip(), code=error)

    def _scrub(self, description: str) -> str:
        """The webhook's path is its secret: never let an echo of it into a stored reason."""
        secret = self._base.rstrip("/").rsplit("/", 1)[-1]
        return description.replace(self._base, "***").replace(secret, "***")[:200]

    async def batch(
        self, calls: Mapping[str, tuple[str, dict[str, Any]]]
    ) -> dict[str, Any | DeliveryError]:
        """Run many calls in `batch` requests of up to 50 (each counts once for the limit).

        The caller's keys may be anything, "0" and "1" too: they never reach Bitrix24.
        A failure of the whole request raises; a failed sub-call is returned as its error.
        """
        answers = await self.batch_answers(calls)
        return {
            key: answer.result if isinstance(answer, Answer) else answer
            for key, answer in answers.items()
        }

    async def batch_answers(
        self, calls: Mapping[str, tuple[str, dict[str, Any]]], *, paid: bool = False
    ) -> dict[str, Answer | DeliveryError]:
        """`batch` with each sub-call's whole answer; `paid`: up to 50 calls, budget taken."""
        outcomes: dict[str, Answer | DeliveryError] = {}
        keys = list(calls)
        for start in range(0, len(keys), BATCH_LIMIT):
            # Sub-calls are named c0, c1, ...: never numeric, so PHP keeps them as keys.
            chunk = {f"c{i}": key for i, key in enumerate(keys[start : start + BATCH_LIMIT])}
            commands = {safe: self._command(*calls[key]) for safe, key in chunk.items()}
            request = {"halt": 0, "cmd": commands}
            parts = BatchParts.read((await self.answer("batch", request, paid=paid)).result)
            for safe, key in chunk.items():
                outcomes[key] = self._sub_outcome(calls[key][0], parts, safe)
        return outcomes

    def _command(self, method: str, params: dict[str, Any]) -> str:
        return f"{method}?{php_query(self._with_client_id(method, params))}"

    def _sub_outcome(self, method: str, parts: BatchParts, key: str) -> Answer | DeliveryError:
        if key in parts.result:
            self._remember(method, parts.time.get(key))
            return parts.answer(key)
        error = parts.error.get(key)
        if not isinstance(error, dict):
            return TransientError(f"Bitrix24 {method}: no answer in batch")
        code = str(error.get("error") or "")
        where = f"Bitrix24 {method}: {code}"
        if code in TRANSIENT_ERRORS:
            return self._transient(method, where, code, None)
        if code == "CANT_EDIT_MESSAGE":
            return MessageNotEditableError(where, code=code)
        description = self._scrub(str(error.get("error_description") or ""))
        return RejectedError(f"{where} {description}".rstrip(), code=code)

    async def token_owner(self, access_token: str) -> int | None:
        """Whose OAuth access token this is, asked of our own portal (`profile`, which needs
        no scope); None when the portal does not accept it: expired, invented, or a deactivated
        user's (empty result, PHP's `[]`: bitrix24.md §13). Asked of our portal, never an event's.
        """
        parts = urlsplit(self._base)
        url = f"{parts.scheme}://{parts.netloc}/rest/profile.json"
        return await self._post("profile", url, {"auth": access_token}, self._read_owner)

    def _read_owner(self, method: str, response: httpx.Response) -> int | None:
        answer = json_or_none(response)
        error = str(answer.get("error") or "") if isinstance(answer, dict) else ""
        result = answer.get("result") if isinstance(answer, dict) else None
        if response.status_code == 401 or error in _NOT_A_TOKEN or result == []:
            return None
        if not response.is_success or not isinstance(result, dict):
            raise self._failure(method, response, answer)
        owner = str(result.get("ID", ""))
        return int(owner) if owner.isdecimal() else None

    async def find_users_by_email(self, email: str) -> list[BitrixUser]:
        """Active users whose e-mail is `email`, ignoring case; extranet users included.

        Bitrix24 silently drops filter keys the webhook's scope may not use (bitrix24.md §6),
        so the e-mail is checked again here rather than trusted from the filter.
        """
        found = users_with_email(await self.answer("user.get", user_query(email)), email)
        if isinstance(found, DeliveryError):
            raise found
        return found

    async def scopes(self) -> list[str]:
        """The scopes the webhook was given (REST method `scope`, which needs none)."""
        found = await self.call("scope", {})
        return [str(name) for name in (found if isinstance(found, list) else [])]

    async def bot_id_by_code(self, code: str) -> int | None:
        """The id of the portal's bot with this CODE, if it exists."""
        bots = await self.call("imbot.bot.list", {})
        # PHP serialises an empty array as [] and a filled one as an object keyed by id.
        for bot in php_map(bots).values():
            if isinstance(bot, dict) and str(bot.get("CODE")) == code:
                return int(bot["ID"])
        return None
