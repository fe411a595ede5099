"""The portal's limits: operation time, overload and query limits, each read as what it means."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from bot.client import OPERATION_LIMIT_BACKOFF, BitrixClient
from bot.errors import PortalBlockedError
from harness.payloads import fixture_json
from outbound.errors import TransientError
from tests.bot.clients.wire import CLIENT_ID, WEBHOOK, assert_no_secret_or_url, batch_answer

pytestmark = pytest.mark.anyio


# --- Bitrix24: a blocked portal and the time budget --------------------------------------------

NOW = 1_764_518_400.0


def _timed(result: Any, reset_at: float | None) -> httpx.Response:
    timing: dict[str, Any] = {"start": NOW, "finish": NOW + 0.1, "operating": 0}
    if reset_at is not None:
        timing["operating_reset_at"] = reset_at
    return httpx.Response(200, json={"result": result, "time": timing})


TIME_LIMIT = {
    "error": "OPERATION_TIME_LIMIT",
    "error_description": "Method is blocked due to operation time limit.",
}
OVERLOAD = {"error": "OVERLOAD_LIMIT", "error_description": "REST API is blocked due to overload."}


@pytest.fixture
def clocked(http: httpx.AsyncClient) -> BitrixClient:
    return BitrixClient(http, WEBHOOK, CLIENT_ID, clock=lambda: NOW)


@pytest.mark.parametrize(
    ("seen", "retry_after"),
    [
        ([("imbot.message.add", NOW + 120)], 120.0),
        # The method's own reset wins over the last one seen for another method.
        ([("imbot.message.add", NOW + 120), ("user.get", NOW + 300)], 120.0),
        ([("user.get", NOW + 300)], 300.0),
        ([("imbot.message.add", None)], OPERATION_LIMIT_BACKOFF),
        ([("imbot.message.add", NOW - 5)], OPERATION_LIMIT_BACKOFF),
        ([], OPERATION_LIMIT_BACKOFF),
    ],
)
async def test_operation_time_limit_lasts_until_the_last_seen_reset(
    router: respx.MockRouter,
    clocked: BitrixClient,
    seen: list[tuple[str, float | None]],
    retry_after: float,
) -> None:
    for method, reset_at in seen:
        router.post(f"{WEBHOOK}{method}").mock(return_value=_timed(1, reset_at))
        await clocked.call(method, {})
    router.post(f"{WEBHOOK}imbot.message.add").mock(
        return_value=httpx.Response(429, json=TIME_LIMIT)
    )

    with pytest.raises(TransientError) as caught:
        await clocked.call("imbot.message.add", {"DIALOG_ID": "27"})

    assert type(caught.value) is TransientError
    assert caught.value.retry_after == retry_after
    assert caught.value.code == "OPERATION_TIME_LIMIT"


async def test_operation_time_limit_in_a_batch_uses_the_reset_of_its_method(
    router: respx.MockRouter, clocked: BitrixClient
) -> None:
    router.post(f"{WEBHOOK}batch").mock(
        return_value=batch_answer(
            result={"c0": 90001},
            result_error={"c1": TIME_LIMIT, "c2": OVERLOAD},
            result_time={"c0": {"duration": 0.02, "operating_reset_at": NOW + 45}},
        )
    )
    add = ("imbot.message.add", {"DIALOG_ID": "27", "MESSAGE": "x"})

    answers = await clocked.batch({"0": add, "1": add, "2": add})

    limited, blocked = answers["1"], answers["2"]
    assert type(limited) is TransientError and limited.retry_after == 45.0
    assert isinstance(blocked, PortalBlockedError) and blocked.code == "OVERLOAD_LIMIT"


@pytest.mark.parametrize(
    "response",
    [httpx.Response(503, json=OVERLOAD), httpx.Response(200, json=OVERLOAD)],
)
async def test_overload_limit_is_a_blocked_portal_not_throttling(
    router: respx.MockRouter, bitrix: BitrixClient, response: httpx.Response
) -> None:
    router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=response)

    with pytest.raises(PortalBlockedError) as caught:
        await bitrix.call("imbot.message.add", {"DIALOG_ID": "27"})

    assert isinstance(caught.value, TransientError)
    assert caught.value.retry_after is None and caught.value.code == "OVERLOAD_LIMIT"
    assert "administrator" in str(caught.value)
    assert_no_secret_or_url(str(caught.value))


async def test_query_limit_exceeded_is_plain_throttling(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    router.post(f"{WEBHOOK}imbot.message.add").mock(
        return_value=httpx.Response(503, json=fixture_json("bitrix24/error_query_limit.json"))
    )

    with pytest.raises(TransientError) as caught:
        await bitrix.call("imbot.message.add", {})

    assert type(caught.value) is TransientError
    assert caught.value.code == "QUERY_LIMIT_EXCEEDED"
