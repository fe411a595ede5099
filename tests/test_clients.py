"""The vendor clients on the wire (respx): Bitrix24 REST over a webhook, the imbot transport,
Okdesk REST, and the bot's message builders. Request shapes follow bitrix24.md and okdesk.md."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from bot.client import OPERATION_LIMIT_BACKOFF, BatchParts, BitrixClient, BitrixUser
from bot.errors import (
    MessageNotEditableError,
    PortalBlockedError,
    RejectedError,
    TransientError,
)
from bot.messages import (
    Language,
    command_params,
    invitation,
    parse_command_params,
    plain,
    rating_keyboard,
)
from bot.transport import ChatMessage, ImbotTransport
from bridge.okdesk import OkdeskClient
from tests.harness.payloads import fixture_json

pytestmark = pytest.mark.anyio

PORTAL = "https://acme.bitrix24.ru"
WEBHOOK = f"{PORTAL}/rest/1/hooktoken/"
CLIENT_ID = "rating-bot-acme"
OKDESK = "https://acme.okdesk.ru"
TOKEN = "okdesk-secret-api-token"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def http(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def bitrix(http: httpx.AsyncClient) -> BitrixClient:
    return BitrixClient(http, WEBHOOK, CLIENT_ID)


@pytest.fixture
def okdesk(http: httpx.AsyncClient) -> OkdeskClient:
    return OkdeskClient(http, OKDESK, TOKEN)


def sent_json(route: respx.Route) -> Any:
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.content)


def ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"result": result, "time": {"start": 1.0}})


def assert_no_secret_or_url(message: str) -> None:
    for leak in ("hooktoken", TOKEN, "://", "acme.bitrix24.ru", "acme.okdesk.ru", "api_token"):
        assert leak not in message


# --- Bitrix24: users by e-mail ---------------------------------------------------------------


async def test_user_lookup_posts_the_email_filter_as_json(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}user.get").mock(
        return_value=httpx.Response(200, json=fixture_json("bitrix24/user_get_by_email.json"))
    )

    users = await bitrix.find_users_by_email("i.petrov@romashka.example")

    assert users == [BitrixUser(id=27, email="i.petrov@romashka.example", active=True)]
    assert str(route.calls.last.request.url) == "https://acme.bitrix24.ru/rest/1/hooktoken/user.get"
    body = sent_json(route)
    assert body["FILTER"] == {"EMAIL": "i.petrov@romashka.example", "ACTIVE": True}
    # Without ADMIN_MODE user.get hides extranet users outside the owner's groups (§7).
    assert body["ADMIN_MODE"] is True
    assert "EMAIL" in body["select"]


def _user(uid: str, email: str | None, active: Any = True) -> dict[str, Any]:
    return {"ID": uid, "EMAIL": email, "ACTIVE": active, "USER_TYPE": "employee"}


@pytest.mark.parametrize(
    ("asked", "listed", "ids"),
    [
        ("I.Petrov@Romashka.example", [_user("27", "i.petrov@romashka.example")], [27]),
        (" i.petrov@romashka.example ", [_user("27", "I.PETROV@ROMASHKA.EXAMPLE ")], [27]),
        # The scope dropped the filter: every user comes back, only the match is kept.
        (
            "i.petrov@romashka.example",
            [_user("1", "admin@acme.example"), _user("27", "i.petrov@romashka.example")],
            [27],
        ),
        ("i.petrov@romashka.example", [_user("31", "someone.else@romashka.example")], []),
        ("i.petrov@romashka.example", [_user("27", "i.petrov@romashka.example", False)], []),
        ("i.petrov@romashka.example", [_user("27", "i.petrov@romashka.example", "N")], []),
        ("i.petrov@romashka.example", [_user("27", "i.petrov@romashka.example", "Y")], [27]),
        ("i.petrov@romashka.example", [_user("27", None)], []),
        (
            "i.petrov@romashka.example",
            [_user("27", "i.petrov@romashka.example"), _user("44", "I.Petrov@romashka.example")],
            [27, 44],
        ),
    ],
)
async def test_user_lookup_rechecks_email_and_activity(
    router: respx.MockRouter, bitrix: BitrixClient, asked: str, listed: list[Any], ids: list[int]
) -> None:
    router.post(f"{WEBHOOK}user.get").mock(return_value=ok(listed))

    users = await bitrix.find_users_by_email(asked)

    assert [u.id for u in users] == ids


@pytest.mark.parametrize("result", [[], None, ["27"], {}])
async def test_user_lookup_with_nothing_usable_finds_nobody(
    router: respx.MockRouter, bitrix: BitrixClient, result: Any
) -> None:
    router.post(f"{WEBHOOK}user.get").mock(return_value=ok(result))

    assert await bitrix.find_users_by_email("i.petrov@romashka.example") == []


# --- Bitrix24: the bot list ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ([], None),  # PHP's empty array
        ({"567": {"ID": 567, "NAME": "Оценка", "CODE": "okdesk_rating", "OPENLINE": "N"}}, 567),
        (
            {
                "39": {"ID": "39", "CODE": "newbot"},
                "567": {"ID": "567", "CODE": "okdesk_rating"},
            },
            567,
        ),
        ({"39": {"ID": 39, "CODE": "newbot"}}, None),
        ([{"ID": 12, "CODE": "okdesk_rating"}], 12),
        (None, None),
    ],
)
async def test_bot_id_is_found_by_code_in_array_or_object(
    router: respx.MockRouter, bitrix: BitrixClient, result: Any, expected: int | None
) -> None:
    route = router.post(f"{WEBHOOK}imbot.bot.list").mock(return_value=ok(result))

    assert await bitrix.bot_id_by_code("okdesk_rating") == expected
    # Every imbot.* call of a webhook bot carries its CLIENT_ID, the list included.
    assert sent_json(route) == {"CLIENT_ID": CLIENT_ID}


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


# --- Bitrix24: batch answers are PHP arrays ----------------------------------------------------


def _batch_answer(**parts: Any) -> httpx.Response:
    """A batch answer; every per-call map PHP left empty is `[]`."""
    names = ("result", "result_error", "result_total", "result_next", "result_time")
    return ok({name: parts.get(name, []) for name in names})


async def test_batch_sends_non_numeric_keys_and_maps_the_callers_keys_back(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}batch").mock(
        return_value=_batch_answer(
            result={"c0": 90001, "c2": 90002},
            result_error={"c1": {"error": "DIALOG_ID_EMPTY", "error_description": "empty"}},
        )
    )
    calls = {
        "0": ("imbot.message.add", {"BOT_ID": 567, "DIALOG_ID": "27", "MESSAGE": "a"}),
        "1": ("imbot.message.add", {"BOT_ID": 567, "DIALOG_ID": "", "MESSAGE": "b"}),
        "2": ("imbot.message.add", {"BOT_ID": 567, "DIALOG_ID": "28", "MESSAGE": "c"}),
    }

    answers = await bitrix.batch(calls)

    commands = sent_json(route)["cmd"]
    assert list(commands) == ["c0", "c1", "c2"]
    assert commands["c0"] == (
        f"imbot.message.add?BOT_ID=567&DIALOG_ID=27&MESSAGE=a&CLIENT_ID={CLIENT_ID}"
    )
    assert answers["0"] == 90001 and answers["2"] == 90002
    assert isinstance(answers["1"], RejectedError) and answers["1"].code == "DIALOG_ID_EMPTY"


async def test_batch_of_more_than_fifty_starts_the_names_again_per_request(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        keys = json.loads(request.content)["cmd"]
        return _batch_answer(result={key: f"done {key}" for key in keys})

    route = router.post(f"{WEBHOOK}batch").mock(side_effect=answer)
    calls = {str(i): ("user.get", {"ID": i}) for i in range(60)}

    answers = await bitrix.batch(calls)

    assert route.call_count == 2
    assert answers["49"] == "done c49" and answers["50"] == "done c0"
    assert len(answers) == 60


@pytest.mark.parametrize(
    ("fixture", "keys"),
    [("batch_numeric_keys_list.json", ["0", "1"]), ("batch_gap_in_keys_object.json", ["0", "2"])],
)
def test_both_shapes_of_every_batch_map_are_read(fixture: str, keys: list[str]) -> None:
    parts = BatchParts.read(fixture_json(f"bitrix24/{fixture}")["result"])

    assert sorted(parts.result) == keys == sorted(parts.time)
    assert all(parts.time[key]["duration"] == 0.02 for key in keys)
    assert parts.next == {}


def test_the_list_fixture_reads_users_totals_and_no_errors() -> None:
    parts = BatchParts.read(fixture_json("bitrix24/batch_numeric_keys_list.json")["result"])

    assert [parts.result[key][0]["ID"] for key in ("0", "1")] == ["27", "28"]
    assert parts.total == {"0": 1, "1": 1}
    assert parts.error == {}


def test_the_gap_fixture_reads_the_failed_call_as_an_error() -> None:
    parts = BatchParts.read(fixture_json("bitrix24/batch_gap_in_keys_object.json")["result"])

    assert parts.result == {"0": 90001, "2": 90002}
    assert parts.error["1"]["error"] == "DIALOG_ID_EMPTY"
    assert parts.total == {}


@pytest.mark.parametrize("answer", [None, [], "batch", {"result": None}])
async def test_batch_answer_without_maps_leaves_every_call_transient(
    router: respx.MockRouter, bitrix: BitrixClient, answer: Any
) -> None:
    router.post(f"{WEBHOOK}batch").mock(return_value=ok(answer))

    answers = await bitrix.batch({"a": ("user.get", {}), "b": ("user.get", {})})

    assert all(isinstance(a, TransientError) for a in answers.values())


async def test_user_lookups_in_a_batch_ask_for_extranet_users_the_way_php_reads_it(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}batch").mock(
        return_value=_batch_answer(
            result={"c0": [_user("27", "a@x.ru")], "c1": [_user("28", "b@x.ru")]},
            result_total={"c0": 1, "c1": 1},
        )
    )

    found = await bitrix.find_users_by_emails({"0": "a@x.ru", "1": "B@x.ru"})

    ids = {key: [u.id for u in users] for key, users in found.items() if isinstance(users, list)}
    assert ids == {"0": [27], "1": [28]}
    query = sent_json(route)["cmd"]["c0"]
    # USERAPI reads ADMIN_MODE as PHP truthiness and FILTER[ACTIVE] as "Y".
    assert "&ADMIN_MODE=Y&" in query and "FILTER[ACTIVE]=Y" in query
    assert "FILTER[EMAIL]=a%40x.ru" in query


@pytest.mark.parametrize("total", [120, None])
async def test_a_lookup_answering_more_than_a_page_says_the_filter_was_dropped(
    router: respx.MockRouter, bitrix: BitrixClient, total: int | None
) -> None:
    page = [_user(str(i), f"u{i}@x.ru") for i in range(1, 51)]
    body: dict[str, Any] = {"result": page, "next": 50, "time": {}}
    if total is not None:
        body["total"] = total
    router.post(f"{WEBHOOK}user.get").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(RejectedError, match="user_basic") as caught:
        await bitrix.find_users_by_email("u1@x.ru")

    assert str(total or "many") in str(caught.value)


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
        return_value=_batch_answer(
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


# --- the imbot transport ---------------------------------------------------------------------


async def test_send_posts_imbot_message_add_with_keyboard(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok(84400))
    transport = ImbotTransport(bitrix, "okdesk_rating", bot_id=567)
    keyboard = rating_keyboard("s7Kq2m")

    message_id = await transport.send("27", ChatMessage("[b]Заявка №1042[/b]", keyboard))

    assert message_id == 84400
    assert sent_json(route) == {
        "BOT_ID": 567,
        "CLIENT_ID": CLIENT_ID,
        "DIALOG_ID": "27",
        "MESSAGE": "[b]Заявка №1042[/b]",
        "KEYBOARD": keyboard,
    }


async def test_send_without_keyboard_sends_no_keyboard_and_reads_string_ids(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    route = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok("84401"))
    transport = ImbotTransport(bitrix, "okdesk_rating", bot_id=567)

    assert await transport.send("chat1157", ChatMessage("hello")) == 84401
    assert "KEYBOARD" not in sent_json(route)
    assert sent_json(route)["DIALOG_ID"] == "chat1157"


@pytest.mark.parametrize(
    ("keyboard", "sent"),
    [(None, "N"), (rating_keyboard("tok"), rating_keyboard("tok"))],
)
async def test_edit_replaces_text_and_keyboard_n_removes_it(
    router: respx.MockRouter,
    bitrix: BitrixClient,
    keyboard: dict[str, Any] | None,
    sent: Any,
) -> None:
    route = router.post(f"{WEBHOOK}imbot.message.update").mock(return_value=ok(True))
    transport = ImbotTransport(bitrix, "okdesk_rating", bot_id=567)

    await transport.edit(84400, ChatMessage("Спасибо! 4 из 5.", keyboard))

    assert sent_json(route) == {
        "BOT_ID": 567,
        "CLIENT_ID": CLIENT_ID,
        "MESSAGE_ID": 84400,
        "MESSAGE": "Спасибо! 4 из 5.",
        "KEYBOARD": sent,
    }


async def test_transport_without_bot_id_finds_it_once_by_code(
    router: respx.MockRouter, bitrix: BitrixClient
) -> None:
    listing = router.post(f"{WEBHOOK}imbot.bot.list").mock(
        return_value=ok(
            {"39": {"ID": 39, "CODE": "other"}, "567": {"ID": 567, "CODE": "okdesk_rating"}}
        )
    )
    sending = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok(1))
    transport = ImbotTransport(bitrix, "okdesk_rating")

    await transport.send("27", ChatMessage("one"))
    await transport.send("28", ChatMessage("two"))

    assert listing.call_count == 1
    assert [json.loads(c.request.content)["BOT_ID"] for c in sending.calls] == [567, 567]


@pytest.mark.parametrize("bots", [[], {"39": {"ID": 39, "CODE": "okdesk_rating_old"}}])
async def test_no_bot_with_the_code_waits_with_the_register_hint(
    router: respx.MockRouter, bitrix: BitrixClient, bots: Any
) -> None:
    router.post(f"{WEBHOOK}imbot.bot.list").mock(return_value=ok(bots))
    sending = router.post(f"{WEBHOOK}imbot.message.add").mock(return_value=ok(1))
    transport = ImbotTransport(bitrix, "okdesk_rating")

    # Invitations wait for the bot to be registered (bot.transport), they do not fail.
    with pytest.raises(TransientError, match=r"python -m bot\.register"):
        await transport.send("27", ChatMessage("hello"))

    assert sending.call_count == 0


# --- Okdesk: contacts ------------------------------------------------------------------------


def _contact(**changes: Any) -> dict[str, Any]:
    contact: dict[str, Any] = fixture_json("okdesk/contact_11771.json")
    contact.update(changes)
    return contact


@pytest.mark.parametrize("base", [OKDESK, OKDESK + "/", OKDESK + "//"])
async def test_contact_lookup_reads_the_email_by_id(
    router: respx.MockRouter, http: httpx.AsyncClient, base: str
) -> None:
    route = router.get(f"{OKDESK}/api/v1/contacts/").mock(
        return_value=httpx.Response(200, json=fixture_json("okdesk/contact_11771.json"))
    )

    email = await OkdeskClient(http, base, TOKEN).contact_email(11771)

    assert email == "i.petrov@romashka.example"
    assert str(route.calls.last.request.url) == (
        f"https://acme.okdesk.ru/api/v1/contacts/?id=11771&api_token={TOKEN}"
    )


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"email": None, "additional_emails": ["second@romashka.example"]},
            "second@romashka.example",
        ),
        (
            {"email": "", "additional_emails": ["second@romashka.example", "third@x.ru"]},
            "second@romashka.example",
        ),
        ({"email": "не указан", "additional_emails": [None, " third@x.ru "]}, "third@x.ru"),
        (
            {"email": None, "additional_emails": [], "cc_email": "cc@romashka.example"},
            "cc@romashka.example",
        ),
        (
            {"email": None, "additional_emails": None, "cc_email": "cc@romashka.example"},
            "cc@romashka.example",
        ),
        ({"email": None, "additional_emails": [], "cc_email": None}, None),
        ({"email": None, "additional_emails": []}, None),
        ({"email": "  I.Petrov@Romashka.example\n"}, "I.Petrov@Romashka.example"),
        ({"email": 12345, "cc_email": "cc@x.ru"}, "cc@x.ru"),
    ],
)
async def test_contact_email_falls_back_to_additional_then_cc(
    router: respx.MockRouter, okdesk: OkdeskClient, changes: dict[str, Any], expected: str | None
) -> None:
    router.get(f"{OKDESK}/api/v1/contacts/").mock(
        return_value=httpx.Response(200, json=_contact(**changes))
    )

    assert await okdesk.contact_email(11771) == expected


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404, json={"errors": "Not found"}),
        httpx.Response(404, text=""),
        httpx.Response(200, json={}),
        httpx.Response(200, json=[]),
        httpx.Response(200, content=b"null", headers={"content-type": "application/json"}),
        httpx.Response(200, json=[{"id": 1, "email": "someone@x.ru"}]),
    ],
)
async def test_missing_contact_is_none(
    router: respx.MockRouter, okdesk: OkdeskClient, response: httpx.Response
) -> None:
    router.get(f"{OKDESK}/api/v1/contacts/").mock(return_value=response)

    assert await okdesk.contact_email(11771) is None


async def test_contact_lookup_answered_with_html_is_transient(
    router: respx.MockRouter, okdesk: OkdeskClient
) -> None:
    # A proxy's page says nothing about our request: try again later.
    router.get(f"{OKDESK}/api/v1/contacts/").mock(
        return_value=httpx.Response(200, text="<html>Войдите в систему</html>")
    )

    with pytest.raises(TransientError, match="without JSON"):
        await okdesk.contact_email(11771)


# --- Okdesk: the ticket's rating -------------------------------------------------------------


@pytest.mark.parametrize(
    ("issue", "expected"),
    [
        ({"id": 314599, "rate": {"id": 3, "value": "normal"}}, "normal"),
        ({"id": 314599, "rate": {"id": 1, "value": "good"}}, "good"),
        ({"id": 314599, "rate": None}, None),
        ({"id": 314599, "rate": "bad"}, "bad"),  # the webhook's shape
        ({"id": 314599, "rate": {"id": None, "value": None}}, None),
        ({"id": 314599, "rate": ""}, None),
        ({"id": 314599}, None),
        ([], None),
    ],
)
async def test_issue_rate_reads_rate_value(
    router: respx.MockRouter, okdesk: OkdeskClient, issue: Any, expected: str | None
) -> None:
    route = router.get(f"{OKDESK}/api/v1/issues/314599").mock(
        return_value=httpx.Response(200, json=issue)
    )

    assert await okdesk.issue_rate(314599) == expected
    assert dict(route.calls.last.request.url.params) == {"api_token": TOKEN}


async def test_rating_posts_both_body_shapes_with_the_token_in_the_query(
    router: respx.MockRouter, okdesk: OkdeskClient
) -> None:
    route = router.post(f"{OKDESK}/api/v1/issues/314599/rates").mock(
        return_value=httpx.Response(200, json={"id": 314599})
    )

    await okdesk.rate_issue(314599, "good")

    assert route.call_count == 1
    assert sent_json(route) == {"rate": "good", "issue": {"rate": "good"}}
    assert dict(route.calls.last.request.url.params) == {"api_token": TOKEN}


@pytest.mark.parametrize("response", [httpx.Response(204), httpx.Response(201, text="")])
async def test_rating_accepts_any_success_without_a_body(
    router: respx.MockRouter, okdesk: OkdeskClient, response: httpx.Response
) -> None:
    route = router.post(f"{OKDESK}/api/v1/issues/7/rates").mock(return_value=response)

    await okdesk.rate_issue(7, "bad")

    assert route.call_count == 1


# --- Okdesk: errors --------------------------------------------------------------------------


async def _call(okdesk: OkdeskClient, what: str) -> object:
    if what == "rating":
        await okdesk.rate_issue(314599, "good")
        return None
    if what == "ticket read":
        return await okdesk.issue_rate(314599)
    return await okdesk.contact_email(11771)


OKDESK_ROUTES = {
    "rating": ("POST", f"{OKDESK}/api/v1/issues/314599/rates"),
    "ticket read": ("GET", f"{OKDESK}/api/v1/issues/314599"),
    "contact lookup": ("GET", f"{OKDESK}/api/v1/contacts/"),
}


@pytest.mark.parametrize("what", list(OKDESK_ROUTES))
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(422, json={"errors": {"rate": ["имеет неверное значение"]}}),
        httpx.Response(400, json={"errors": "bad request"}),
        httpx.Response(401, text="Вы не авторизованы для просмотра этой страницы"),
        httpx.Response(403, json={"errors": "Доступ запрещен"}),
    ],
)
async def test_okdesk_refusal_is_rejected(
    router: respx.MockRouter, okdesk: OkdeskClient, what: str, response: httpx.Response
) -> None:
    method, url = OKDESK_ROUTES[what]
    router.route(method=method, url__startswith=url).mock(return_value=response)

    with pytest.raises(RejectedError) as caught:
        await _call(okdesk, what)

    assert not isinstance(caught.value, TransientError)
    assert str(caught.value).startswith(f"Okdesk {what}: HTTP {response.status_code}")
    assert_no_secret_or_url(str(caught.value))


@pytest.mark.parametrize("what", list(OKDESK_ROUTES))
@pytest.mark.parametrize(
    ("response", "retry_after"),
    [
        (httpx.Response(500, text="Internal Server Error"), None),
        (httpx.Response(502, text="<html>nginx</html>"), None),
        (httpx.Response(503, headers={"Retry-After": "30"}), 30.0),
        (httpx.Response(429, headers={"Retry-After": "7"}), 7.0),
        (httpx.Response(429, headers={"Retry-After": "-1"}), None),
        (httpx.Response(408), None),
    ],
)
async def test_okdesk_busy_is_transient(
    router: respx.MockRouter,
    okdesk: OkdeskClient,
    what: str,
    response: httpx.Response,
    retry_after: float | None,
) -> None:
    method, url = OKDESK_ROUTES[what]
    router.route(method=method, url__startswith=url).mock(return_value=response)

    with pytest.raises(TransientError) as caught:
        await _call(okdesk, what)

    assert caught.value.retry_after == retry_after
    assert_no_secret_or_url(str(caught.value))


@pytest.mark.parametrize("what", list(OKDESK_ROUTES))
@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout(f"timed out: {OKDESK}/api/v1/issues/314599/rates?api_token={TOKEN}"),
        httpx.ConnectError(f"refused: {OKDESK}/?api_token={TOKEN}"),
        httpx.WriteTimeout("write timed out"),
    ],
)
async def test_okdesk_network_failure_is_transient_without_the_token(
    router: respx.MockRouter, okdesk: OkdeskClient, what: str, error: Exception
) -> None:
    method, url = OKDESK_ROUTES[what]
    router.route(method=method, url__startswith=url).mock(side_effect=error)

    with pytest.raises(TransientError) as caught:
        await _call(okdesk, what)

    assert str(caught.value).startswith(f"Okdesk {what}: ")
    assert_no_secret_or_url(str(caught.value))


async def test_okdesk_error_body_echoing_the_url_does_not_leak_the_token(
    router: respx.MockRouter, okdesk: OkdeskClient
) -> None:
    router.post(f"{OKDESK}/api/v1/issues/314599/rates").mock(
        return_value=httpx.Response(
            404, text=f"No route matches /api/v1/issues/314599/rates?api_token={TOKEN}"
        )
    )

    with pytest.raises(RejectedError) as caught:
        await okdesk.rate_issue(314599, "good")

    assert_no_secret_or_url(str(caught.value))


# --- messages and the keyboard ---------------------------------------------------------------


def test_rating_keyboard_has_five_blocking_rate_buttons_in_order() -> None:
    buttons = rating_keyboard("s7Kq2m")["BUTTONS"]

    assert [b["TEXT"] for b in buttons] == ["1", "2", "3", "4", "5"]
    assert [b["COMMAND_PARAMS"] for b in buttons] == [f"s7Kq2m:{n}" for n in range(1, 6)]
    assert all(b["COMMAND"] == "rate" and b["BLOCK"] == "Y" for b in buttons)
    assert all(b["DISPLAY"] == "LINE" for b in buttons)


@given(
    # Survey tokens are URL-safe base64 (storage.queries.new_survey_token).
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=5),
)
def test_command_params_round_trip(token: str, score: int) -> None:
    assert parse_command_params(command_params(token, score)) == (token, score)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("s7Kq2m:4", ("s7Kq2m", 4)),
        ("  s7Kq2m:5\n", ("s7Kq2m", 5)),
        ("a:b:3", None),
        ("tok\x00:4", None),
        ("x", None),
        ("tok:0", None),
        ("tok:6", None),
        (":3", None),
        ("tok:", None),
        ("", None),
        ("tok:-1", None),
        ("tok:+3", None),
        ("tok:3.0", None),
        ("tok: 3", None),
    ],
)
def test_parse_command_params(params: str, expected: tuple[str, int] | None) -> None:
    assert parse_command_params(params) == expected


@pytest.mark.parametrize("params", ["tok:²", "tok:" + "9" * 5000])
def test_unreadable_score_is_none_not_an_exception(params: str) -> None:
    assert parse_command_params(params) is None


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("[b]bold[/b]", 200, "(b)bold(/b)"),
        ("[url=https://evil.example]click[/url]", 200, "(url=https://evil.example)click(/url)"),
        ("line\none\t\ttwo  ", 200, "line one two"),
        ("x" * 250, 200, "x" * 199 + "…"),
        ("y" * 200, 200, "y" * 200),
        ("abcdef", 4, "abc…"),
    ],
)
def test_plain_removes_bb_code_brackets_and_bounds_length(
    value: str, limit: int, expected: str
) -> None:
    cleaned = plain(value, limit)

    assert cleaned == expected
    assert "[" not in cleaned and "]" not in cleaned
    assert len(cleaned) <= limit


@given(st.text(max_size=500), st.integers(min_value=1, max_value=300))
def test_plain_never_leaves_brackets_or_exceeds_the_limit(value: str, limit: int) -> None:
    cleaned = plain(value, limit)

    assert "[" not in cleaned and "]" not in cleaned
    assert len(cleaned) <= limit


@pytest.mark.parametrize(
    ("language", "number_text", "engineer_label"),
    [("ru", "№1042", "Исполнитель: "), ("en", "#1042", "Engineer: ")],
)
def test_invitation_names_number_title_and_engineer(
    language: Language, number_text: str, engineer_label: str
) -> None:
    text = invitation(1042, "Касса [b]не[/b] печатает чек", "Алексей Карпенко", language)

    assert number_text in text
    assert "«Касса (b)не(/b) печатает чек»" in text
    assert f"{engineer_label}Алексей Карпенко" in text


@pytest.mark.parametrize(("language", "label"), [("ru", "Исполнитель"), ("en", "Engineer")])
def test_invitation_without_engineer_or_title_omits_those_lines(
    language: Language, label: str
) -> None:
    text = invitation(7, None, None, language)

    assert "7" in text
    assert label not in text
    assert "«" not in text


def test_invitation_bounds_a_huge_title() -> None:
    text = invitation(1, "Ж" * 5000, "И" * 500, "ru")

    assert "Ж" * 199 + "…" in text
    assert "Ж" * 200 not in text
    assert "И" * 99 + "…" in text
