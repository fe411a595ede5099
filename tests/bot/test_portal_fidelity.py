"""The client, the transport and `bot.register` against a fake portal as odd as the real one
(bitrix24.md §1, §2, §6, §7): batch answers shaped by PHP arrays, extranet users and their
clicks, CLIENT_ID on every imbot.* call, and a portal blocked by hand or out of time budget."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bot.batching.shared import SharedCalls
from bot.client import BitrixClient
from bot.errors import PortalBlockedError
from bot.events import RatingClick, addressed_to, parse_event
from bot.messenger import ChatMessage, ImbotMessenger
from bot.register import register
from bot.settings import BotSettings
from bot.texts.messages import rating_keyboard
from harness.constants import FIXTURES as ALL_FIXTURES
from outbound.errors import DeliveryError, TransientError
from sandbox.fakes.bitrix import MEMBER_ID, FakeBitrix, php_json_array

pytestmark = pytest.mark.anyio

FIXTURES = ALL_FIXTURES / "bitrix24"
PORTAL = "https://acme.bitrix24.ru"
HOOK = "/rest/1/hooktoken/"
CLIENT_ID = "rating-bot-acme"
EXTRANET_USER = {
    "ID": "28",
    "ACTIVE": True,
    "NAME": "Николай",
    "LAST_NAME": "Ставрогин",
    "EMAIL": "n.stavrogin@transport.example",
    "USER_TYPE": "extranet",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def fake() -> FakeBitrix:
    """A portal with the fixture employee and an extranet user (a client's contact)."""
    portal = FakeBitrix(webhook_path=HOOK)
    portal.users = [dict(_fixture("user_get_by_email.json")["result"][0]), dict(EXTRANET_USER)]
    return portal


@pytest.fixture
async def http(fake: FakeBitrix) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url=PORTAL + HOOK) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient) -> BitrixClient:
    return BitrixClient(http, PORTAL + HOOK, CLIENT_ID)


def _settings() -> BotSettings:
    return BotSettings(
        _env_file=None,
        bitrix_webhook_url=PORTAL + HOOK,
        bitrix_client_id=CLIENT_ID,
        bitrix_events_token="bitrix-events-secret-0123456789",
        public_url="https://rating.acme.example/",
    )


# --- the fake answers batch as PHP's json_encode does -----------------------------------------


@pytest.mark.parametrize(
    ("mapping", "encoded"),
    [
        ({}, []),
        ({"0": "a", "1": "b"}, ["a", "b"]),
        ({0: "a", "1": "b"}, ["a", "b"]),
        ({"0": "a", "2": "b"}, {"0": "a", "2": "b"}),
        ({"1": "b"}, {"1": "b"}),
        ({"1": "b", "0": "a"}, {"1": "b", "0": "a"}),
        # Not canonical decimals: PHP keeps them as strings, so no list.
        ({"00": "a", "01": "b"}, {"00": "a", "01": "b"}),
        ({"c0": "a", "c1": "b"}, {"c0": "a", "c1": "b"}),
        ({"-0": "a"}, {"-0": "a"}),
    ],
)
def test_php_json_array_mimics_json_encode(mapping: dict[Any, Any], encoded: Any) -> None:
    assert php_json_array(mapping) == encoded


def _shapes(answer: dict[str, Any]) -> dict[str, str]:
    return {name: type(value).__name__ for name, value in answer.items()}


async def test_fake_batch_with_keys_zero_to_n_answers_lists_like_the_fixture(
    http: httpx.AsyncClient,
) -> None:
    fixture = _fixture("batch_numeric_keys_list.json")
    extranet_mode = {key: f"{q}&ADMIN_MODE=Y" for key, q in fixture["_request"]["cmd"].items()}

    answer = (await http.post("batch", json={"halt": 0, "cmd": extranet_mode})).json()

    assert _shapes(answer["result"]) == _shapes(fixture["result"])
    assert answer["result"]["result_total"] == fixture["result"]["result_total"]
    ids = [users[0]["ID"] for users in answer["result"]["result"]]
    assert ids == [users[0]["ID"] for users in fixture["result"]["result"]]


async def test_fake_batch_with_a_gap_answers_objects_like_the_fixture(
    http: httpx.AsyncClient, fake: FakeBitrix
) -> None:
    fixture = _fixture("batch_gap_in_keys_object.json")
    bot_id = await _bot(http)
    cmd = {
        key: query.replace("BOT_ID=567", f"BOT_ID={bot_id}")
        for key, query in fixture["_request"]["cmd"].items()
    }

    answer = (await http.post("batch", json={"halt": 0, "cmd": cmd})).json()

    assert _shapes(answer["result"]) == _shapes(fixture["result"])
    assert sorted(answer["result"]["result"]) == ["0", "2"]
    assert answer["result"]["result_error"]["1"]["error"] == "DIALOG_ID_EMPTY"
    assert answer["result"]["result_total"] == [] == answer["result"]["result_next"]


async def _bot(http: httpx.AsyncClient) -> int:
    body = {
        "CODE": "okdesk_rating",
        "CLIENT_ID": CLIENT_ID,
        "EVENT_HANDLER": "https://rating.acme.example/api/v1/bitrix/events?token=t",
        "PROPERTIES": {"NAME": "Оценка заявок"},
    }
    return int((await http.post("imbot.register", json=body)).json()["result"])


# --- 200 invitations, each posted exactly once ------------------------------------------------


async def test_two_hundred_invitations_are_each_posted_exactly_once(
    client: BitrixClient, fake: FakeBitrix
) -> None:
    registration = await register(client, _settings())
    transport = ImbotMessenger(client, "okdesk_rating", registration.bot_id)
    # bridge.survey.jobs keys its invitations "0", "1", ...: the first 50 would come back as a list.
    invitations = {
        str(i): (str(1000 + i), ChatMessage(f"Заявка №{i}", rating_keyboard(f"tok{i}")))
        for i in range(200)
    }

    sent = await transport.send_many(invitations)

    ids = {key: value for key, value in sent.items() if isinstance(value, int)}
    assert len(set(ids.values())) == 200, sent
    posted = Counter(m["DIALOG_ID"] for m in fake.messages.values())
    assert posted == Counter(dialog for dialog, _ in invitations.values())
    assert [fake.messages[ids[str(i)]]["DIALOG_ID"] for i in (0, 49, 50, 199)] == [
        "1000",
        "1049",
        "1050",
        "1199",
    ]
    assert Counter(method for method, _ in fake.calls)["batch"] == 4


async def test_two_hundred_lookups_find_each_user_by_the_callers_key(
    client: BitrixClient, fake: FakeBitrix
) -> None:
    fake.users = [
        {"ID": str(100 + i), "ACTIVE": True, "EMAIL": f"u{i}@romashka.example"} for i in range(200)
    ]

    found = await SharedCalls(client).find_users_by_emails(
        {str(i): f"U{i}@romashka.example" for i in range(200)}
    )

    ids = {key: [u.id for u in users] for key, users in found.items() if isinstance(users, list)}
    assert ids == {str(i): [100 + i] for i in range(200)}


# --- extranet users ---------------------------------------------------------------------------


async def test_fake_user_get_hides_extranet_users_without_admin_mode(
    http: httpx.AsyncClient, fake: FakeBitrix
) -> None:
    query = {"FILTER": {"EMAIL": EXTRANET_USER["EMAIL"]}}

    async def found(**extra: Any) -> int:
        # An empty user.get has no `total` (bitrix24.md §13).
        return int((await http.post("user.get", json={**query, **extra})).json().get("total", 0))

    assert await found() == 0
    assert await found(ADMIN_MODE=True) == 1
    assert await found(ADMIN_MODE=False) == 0
    fake.owner_is_admin = False
    assert await found(ADMIN_MODE=True) == 0


@pytest.mark.parametrize(("flag", "shown"), [("Y", True), ("1", True), ("N", True), ("0", False)])
async def test_fake_reads_admin_mode_in_a_query_string_as_php_truthiness(
    http: httpx.AsyncClient, flag: str, shown: bool
) -> None:
    query = f"user.get?FILTER[EMAIL]=n.stavrogin%40transport.example&ADMIN_MODE={flag}"

    answer = (await http.post("batch", json={"cmd": {"u": query}})).json()["result"]

    # No total for an empty answer, so an empty map: PHP's `[]` (bitrix24.md §13).
    assert answer["result_total"] == ({"u": 1} if shown else [])


async def test_extranet_users_are_found_alone_and_in_a_batch(client: BitrixClient) -> None:
    alone = await client.find_users_by_email("N.Stavrogin@transport.example")
    batched = await SharedCalls(client).find_users_by_emails(
        {"0": "i.petrov@romashka.example", "1": "n.stavrogin@transport.example"}
    )

    assert [u.id for u in alone] == [28]
    ids = {key: [u.id for u in users] for key, users in batched.items() if isinstance(users, list)}
    assert ids == {"0": [27], "1": [28]}


async def _invite(client: BitrixClient, bot_id: int, user_id: int) -> int:
    transport = ImbotMessenger(client, "okdesk_rating", bot_id)
    return await transport.send(str(user_id), ChatMessage("Оцените", rating_keyboard("s7Kq2m")))


async def test_a_fresh_registration_lets_extranet_users_click(
    client: BitrixClient, fake: FakeBitrix
) -> None:
    registration = await register(client, _settings())
    message_id = await _invite(client, registration.bot_id, 28)

    body = fake.click(message_id, user_id=28, button=3)

    assert body is not None
    parsed = parse_event(body)
    (click,) = parsed.events
    assert isinstance(click, RatingClick)
    assert (click.params, click.user_id, click.message_id) == ("s7Kq2m:4", 28, message_id)
    assert addressed_to(click, registration.bot_id, "okdesk_rating")
    assert parsed.auth.member_id == MEMBER_ID
    assert fake.commands[registration.command_id]["HIDDEN"] == "Y"


async def test_registering_again_fixes_an_old_command_without_extranet_support(
    client: BitrixClient, http: httpx.AsyncClient, fake: FakeBitrix
) -> None:
    # An older release registered `rate` without EXTRANET_SUPPORT: clients' clicks were lost.
    bot_id = await _bot(http)
    old = {
        "BOT_ID": bot_id,
        "CLIENT_ID": CLIENT_ID,
        "COMMAND": "rate",
        "HIDDEN": "N",
        "EVENT_COMMAND_ADD": "https://rating.acme.example/old",
        "LANG": [{"LANGUAGE_ID": "ru", "TITLE": "Оценить"}],
    }
    command_id = int((await http.post("imbot.command.register", json=old)).json()["result"])
    message_id = await _invite(client, bot_id, 28)
    assert fake.click(message_id, user_id=28) is None
    assert fake.click(message_id, user_id=27) is not None

    registration = await register(client, _settings())

    assert (registration.bot_id, registration.command_id) == (bot_id, command_id)
    assert fake.commands[command_id]["EXTRANET_SUPPORT"] == "Y"
    assert fake.commands[command_id]["HIDDEN"] == "Y"
    assert fake.click(message_id, user_id=28) is not None


async def test_fake_command_register_keeps_old_flags_and_update_changes_them(
    http: httpx.AsyncClient, fake: FakeBitrix
) -> None:
    bot_id = await _bot(http)
    command = {
        "BOT_ID": bot_id,
        "CLIENT_ID": CLIENT_ID,
        "COMMAND": "rate",
        "EVENT_COMMAND_ADD": "https://rating.acme.example/a",
        "LANG": [{"LANGUAGE_ID": "en", "TITLE": "Rate"}],
    }
    first = (await http.post("imbot.command.register", json=command)).json()["result"]
    again = {
        **command,
        "EXTRANET_SUPPORT": "Y",
        "EVENT_COMMAND_ADD": "https://rating.acme.example/b",
    }
    second = (await http.post("imbot.command.register", json=again)).json()["result"]

    assert first == second
    assert fake.commands[first]["EXTRANET_SUPPORT"] == "N"
    # The app's one ONIMCOMMANDADD handler is rebound, though.
    assert (
        fake.commands[first]["EVENT_URL"] == f"https://rating.acme.example/b?CLIENT_ID={CLIENT_ID}"
    )

    update = {"COMMAND_ID": first, "CLIENT_ID": CLIENT_ID, "FIELDS": {"EXTRANET_SUPPORT": "Y"}}
    assert (await http.post("imbot.command.update", json=update)).json()["result"] is True
    assert fake.commands[first]["EXTRANET_SUPPORT"] == "Y"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"FIELDS": {}}, "WRONG_REQUEST"),
        ({"COMMAND_ID": 9999}, "COMMAND_ID_ERROR"),
        ({"CLIENT_ID": "another-app"}, "APP_ID_ERROR"),
        ({"CLIENT_ID": ""}, "ACCESS_DENIED"),
        ({"FIELDS": {"EVENT_COMMAND_ADD": "ftp://x"}}, "EVENT_COMMAND_ADD_ERROR"),
    ],
)
async def test_fake_command_update_refuses_like_imrest(
    http: httpx.AsyncClient, change: dict[str, Any], error: str
) -> None:
    bot_id = await _bot(http)
    command = {
        "BOT_ID": bot_id,
        "CLIENT_ID": CLIENT_ID,
        "COMMAND": "rate",
        "EVENT_COMMAND_ADD": "https://rating.acme.example/a",
        "LANG": [{"LANGUAGE_ID": "en", "TITLE": "Rate"}],
    }
    command_id = (await http.post("imbot.command.register", json=command)).json()["result"]
    update = {"COMMAND_ID": command_id, "CLIENT_ID": CLIENT_ID, "FIELDS": {"HIDDEN": "Y"}}

    answer = await http.post("imbot.command.update", json={**update, **change})

    assert answer.status_code in (400, 403) and answer.json()["error"] == error


# --- CLIENT_ID on every imbot.* call ----------------------------------------------------------


async def test_every_imbot_call_of_registering_and_sending_carries_client_id(
    client: BitrixClient, fake: FakeBitrix
) -> None:
    registration = await register(client, _settings())
    await register(client, _settings())
    transport = ImbotMessenger(client, "okdesk_rating")
    await transport.send("27", ChatMessage("hello"))
    await transport.send_many({"a": ("27", ChatMessage("one")), "b": ("28", ChatMessage("two"))})

    imbot = [(m, p) for m, p in fake.calls if m.startswith("imbot.")]
    assert {m for m, _ in imbot} >= {
        "imbot.bot.list",
        "imbot.register",
        "imbot.update",
        "imbot.command.register",
        "imbot.command.update",
        "imbot.message.add",
    }
    assert all(p.get("CLIENT_ID") == CLIENT_ID for _, p in imbot)
    assert registration.created


async def test_fake_bot_list_needs_no_client_id_but_register_does(http: httpx.AsyncClient) -> None:
    # IMREST botList checks only the auth type; botRegister wants CLIENT_ID from a webhook.
    listed = await http.post("imbot.bot.list")
    refused = await http.post(
        "imbot.register",
        json={"CODE": "x", "EVENT_HANDLER": "https://h", "PROPERTIES": {"NAME": "x"}},
    )

    assert listed.status_code == 200 and listed.json()["result"] == []
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "ACCESS_DENIED",
        "error_description": "Client ID not specified",
    }


# --- a portal blocked by hand, and the time budget --------------------------------------------


async def test_a_blocked_portal_answers_overload_limit_and_the_client_says_so(
    http: httpx.AsyncClient, client: BitrixClient, fake: FakeBitrix
) -> None:
    fake.overloaded = True

    raw = await http.post("user.get")
    with pytest.raises(PortalBlockedError):
        await client.find_users_by_email("i.petrov@romashka.example")
    fake.overloaded = False

    assert raw.status_code == 503
    assert raw.json() == {
        "error": "OVERLOAD_LIMIT",
        "error_description": "REST API is blocked due to overload.",
    }
    assert await client.find_users_by_email("i.petrov@romashka.example") != []


async def test_operation_time_limit_waits_until_the_reset_the_portal_announced(
    http: httpx.AsyncClient, client: BitrixClient, fake: FakeBitrix
) -> None:
    fake.operating_reset_at = int(time.time()) + 90
    await client.find_users_by_email("i.petrov@romashka.example")
    fake.fail("user.get", "OPERATION_TIME_LIMIT")

    with pytest.raises(TransientError) as caught:
        await client.find_users_by_email("i.petrov@romashka.example")

    assert not isinstance(caught.value, PortalBlockedError)
    assert caught.value.retry_after is not None and 80 < caught.value.retry_after <= 90
    fake.fail("user.get", "OPERATION_TIME_LIMIT")
    raw = await http.post("user.get")
    assert raw.status_code == 429
    assert raw.json()["error_description"] == "Method is blocked due to operation time limit."


async def test_sub_call_errors_of_a_batch_keep_their_kind(
    client: BitrixClient, fake: FakeBitrix
) -> None:
    fake.fail("user.get", "OVERLOAD_LIMIT", "OPERATION_TIME_LIMIT", "QUERY_LIMIT_EXCEEDED")
    emails = {"0": "a@x.ru", "1": "b@x.ru", "2": "c@x.ru", "3": "i.petrov@romashka.example"}

    found = await SharedCalls(client).find_users_by_emails(emails)

    kinds = {key: type(value).__name__ for key, value in found.items()}
    assert kinds == {
        "0": "PortalBlockedError",
        "1": "TransientError",
        "2": "TransientError",
        "3": "list",
    }
    assert all(isinstance(v, DeliveryError) and v.code for k, v in found.items() if k != "3")
