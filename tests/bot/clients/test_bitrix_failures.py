"""How the Bitrix24 client tells transient failures from rejections, never leaking its URL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from bot.client import BitrixClient
from bot.errors import MessageNotEditableError
from harness.payloads import fixture_json
from outbound.errors import RejectedError, TransientError
from tests.bot.clients.wire import CLIENT_ID, WEBHOOK, assert_no_secret_or_url, ok, sent_json

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("method", "params", "sent"),
    [
        ("imbot.message.add", {"DIALOG_ID": "27"}, {"DIALOG_ID": "27", "CLIENT_ID": CLIENT_ID}),
        ("imbot.command.update", {"COMMAND_ID": 103, "CLIENT_ID": "x"}, None),
        ("user.get", {"ID": 27}, {"ID": 27}),
    ],
)
async def test_client_id_is_added_to_imbot_calls_only(
    router: respx.MockRouter,
    bitrix: BitrixClient,
    method: str,
    params: dict[str, Any],
    sent: dict[str, Any] | None,
) -> None:
    route = router.post(f"{WEBHOOK}{method}").mock(return_value=ok(True))

    await bitrix.call(method, params)

    assert sent_json(route) == (params if sent is None else sent)


# --- Bitrix24: errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(503, json=fixture_json("bitrix24/error_query_limit.json")), None),
        (httpx.Response(500, json={"error": "INTERNAL_SERVER_ERROR"}), None),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), None),
        (httpx.Response(504, text=""), None),
        (
            httpx.Response(
                429, json={"error": "OPERATION_TIME_LIMIT"}, headers={"Retry-After": "7"}
            ),
            7.0,
        ),
        # An HTTP-date already past means "now".
        (httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), 0.0),
        (httpx.Response(200, json={"error": "QUERY_LIMIT_EXCEEDED"}), None),
        (httpx.Response(200, json={"error": "OVERLOAD_LIMIT", "error_description": "x"}), None),
    ],
)
async def test_busy_or_failing_portal_is_a_transient_error(
    router: respx.MockRouter,
    bitrix: BitrixClient,
    response: httpx.Response,
    retry_after: float | None,
) -> None:
    router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=response)

    with pytest.raises(TransientError) as caught:
        await bitrix.call("imbot.message.add", {"DIALOG_ID": "27"})

    assert caught.value.retry_after == retry_after
    assert str(caught.value).startswith("Bitrix24 imbot.message.add: ")
    assert_no_secret_or_url(str(caught.value))


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused to https://acme.bitrix24.ru/rest/1/hooktoken/"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.RemoteProtocolError("peer closed connection"),
    ],
)
async def test_network_failure_is_a_transient_error_without_the_url(
    router: respx.MockRouter, bitrix: BitrixClient, error: Exception
) -> None:
    router.post(f"{WEBHOOK}user.get").mock(side_effect=error)

    with pytest.raises(TransientError) as caught:
        await bitrix.find_users_by_email("i.petrov@romashka.example")

    assert type(error).__name__ in str(caught.value)
    assert_no_secret_or_url(str(caught.value))


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(
                400, json={"error": "BOT_ID_ERROR", "error_description": "Bot not found"}
            ),
            RejectedError,
        ),
        (httpx.Response(401, json={"error": "expired_token"}), RejectedError),
        (httpx.Response(403, json={"error": "insufficient_scope"}), RejectedError),
        (httpx.Response(403, json={"error": "CANT_EDIT_MESSAGE"}), MessageNotEditableError),
        (
            httpx.Response(
                200, json={"error": "ACCESS_DENIED", "error_description": "Client ID not specified"}
            ),
            RejectedError,
        ),
        (httpx.Response(200, json={"error": "CANT_EDIT_MESSAGE"}), MessageNotEditableError),
        (httpx.Response(404, text="Not Found"), RejectedError),
    ],
)
async def test_refused_request_is_rejected_not_transient(
    router: respx.MockRouter,
    bitrix: BitrixClient,
    response: httpx.Response,
    expected: type[RejectedError],
) -> None:
    router.post(f"{WEBHOOK}imbot.message.update").mock(return_value=response)

    with pytest.raises(RejectedError) as caught:
        await bitrix.call("imbot.message.update", {"MESSAGE_ID": 1})

    assert type(caught.value) is expected
    assert not isinstance(caught.value, TransientError)
    assert_no_secret_or_url(str(caught.value))


@pytest.mark.anyio
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, json={"time": {}}),
        httpx.Response(200, text="<html>login</html>"),
        httpx.Response(200, json=["result"]),
    ],
)
async def test_success_without_a_result_is_transient(
    router: respx.MockRouter, bitrix: BitrixClient, response: httpx.Response
) -> None:
    router.post(f"{WEBHOOK}imbot.message.update").mock(return_value=response)
    with pytest.raises(TransientError, match="without a result"):
        await bitrix.call("imbot.message.update", {"MESSAGE_ID": 1})


async def test_rejected_message_keeps_the_vendor_error_code(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    router.post(f"{WEBHOOK}imbot.message.add").mock(
        return_value=httpx.Response(
            400, json={"error": "BOT_ID_ERROR", "error_description": "Bot not found"}
        )
    )

    with pytest.raises(RejectedError, match="HTTP 400 BOT_ID_ERROR Bot not found") as caught:
        await bitrix.call("imbot.message.add", {})

    assert caught.value.code == "BOT_ID_ERROR"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_is_rejected_and_never_followed(
    router: respx.MockRouter, bitrix: BitrixClient, status: int
) -> None:
    elsewhere = router.route(host="evil.example").mock(return_value=ok(1))
    router.post(f"{WEBHOOK}imbot.message.add").mock(
        return_value=httpx.Response(
            status, headers={"Location": "https://evil.example/rest/1/hooktoken/imbot.message.add"}
        )
    )

    with pytest.raises(RejectedError, match="redirect not followed") as caught:
        await bitrix.call("imbot.message.add", {"MESSAGE": "hi"})

    assert not isinstance(caught.value, TransientError)
    assert elsewhere.call_count == 0
    assert_no_secret_or_url(str(caught.value))


async def test_error_description_echoing_the_url_does_not_leak_it(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    router.post(f"{WEBHOOK}user.get").mock(
        return_value=httpx.Response(
            400,
            json={"error": "INVALID_REQUEST", "error_description": f"Https required: {WEBHOOK}"},
        )
    )

    with pytest.raises(RejectedError) as caught:
        await bitrix.call("user.get", {})

    assert_no_secret_or_url(str(caught.value))
