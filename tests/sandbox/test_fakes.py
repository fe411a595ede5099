"""Quick checks that the fake Okdesk and Bitrix24 servers answer the documented shapes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from harness.constants import FIXTURES
from sandbox.fakes.bitrix import FakeBitrix
from sandbox.fakes.bitrix.removal import deleted_by_hand
from sandbox.fakes.okdesk import FakeOkdesk

HOOK = "/rest/1/hooktoken/"
TOKEN = {"api_token": "okdesk-test-token"}
KEYBOARD = {"BUTTONS": [{"TEXT": "5", "COMMAND": "rate", "COMMAND_PARAMS": "1:5"}]}


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests on asyncio."""
    return "asyncio"


def _fixture(name: str) -> Any:
    """Load a JSON fixture."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _issue(issue_id: int, status: str, completed_at: str | None) -> dict[str, Any]:
    """Build a REST-shaped issue."""
    return {
        "id": issue_id,
        "title": f"Issue {issue_id}",
        "status": {"code": status, "name": status},
        "rate": None,
        "completed_at": completed_at,
        "contact": {"id": 11771, "name": "Петров Иван"},
    }


@pytest.fixture
def bitrix() -> FakeBitrix:
    """A Bitrix fake with the fixture user."""
    fake = FakeBitrix()
    fake.users = [dict(_fixture("bitrix24/user_get_by_email.json")["result"][0])]
    return fake


@pytest.fixture
def okdesk() -> FakeOkdesk:
    """An Okdesk fake with the fixture contact and three issues."""
    fake = FakeOkdesk()
    fake.contacts[11771] = _fixture("okdesk/contact_11771.json")
    fake.issues[1] = _issue(1, "closed", "2024-08-24T17:26:19.298+07:00")
    fake.issues[2] = _issue(2, "opened", None)
    fake.issues[3] = _issue(3, "closed", "2024-08-20T09:00:00.000+07:00")
    return fake


@pytest.fixture
async def bx(bitrix: FakeBitrix) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the Bitrix fake's webhook URL."""
    transport = httpx.ASGITransport(app=bitrix.app)
    base = "https://acme.bitrix24.ru" + HOOK
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        yield client


@pytest.fixture
async def ok(okdesk: FakeOkdesk) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client bound to the Okdesk fake."""
    transport = httpx.ASGITransport(app=okdesk.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://acme.okdesk.ru") as c:
        yield c


async def _register_bot(bx: httpx.AsyncClient) -> int:
    """Register a bot and return its id."""
    body = {
        "CODE": "okdesk_rating",
        "CLIENT_ID": "cid",
        "EVENT_HANDLER": "https://svc/events",
        "PROPERTIES": {"NAME": "Оценка"},
    }
    response = await bx.post("imbot.register.json", json=body)
    assert response.status_code == 200
    return int(response.json()["result"])


@pytest.mark.anyio
async def test_user_get_by_email_is_case_insensitive(bx: httpx.AsyncClient) -> None:
    """user.get finds the user by e-mail regardless of case, as JSON or form."""
    as_json = {"FILTER": {"EMAIL": "I.Petrov@Romashka.example", "ACTIVE": True}}
    response = await bx.post("user.get.json", json=as_json)
    body = response.json()
    assert body["result"][0]["ID"] == "27" and body["total"] == 1 and "time" in body
    form = {"filter[EMAIL]": "i.petrov@romashka.example", "FILTER[ACTIVE]": "Y"}
    assert (await bx.post("user.get", data=form)).json()["total"] == 1
    missing = await bx.post("user.get", json={"FILTER": {"EMAIL": "nobody@x"}})
    assert missing.json()["result"] == []


@pytest.mark.anyio
async def test_register_is_idempotent_and_bot_list(bx: httpx.AsyncClient) -> None:
    """Re-registering a CODE returns the same id; bot.list shows it."""
    assert (await bx.post("imbot.bot.list")).json()["result"] == []
    assert await _register_bot(bx) == 567
    assert await _register_bot(bx) == 567
    listed = (await bx.post("imbot.bot.list")).json()["result"]
    assert listed == {
        "567": {"ID": 567, "NAME": "Оценка", "CODE": "okdesk_rating", "OPENLINE": "N"}
    }


@pytest.mark.anyio
async def test_a_bot_deleted_by_hand_is_gone_and_its_deletion_event_names_it(
    bx: httpx.AsyncClient, bitrix: FakeBitrix
) -> None:
    """The portal's administrator deletes the bot: bot.list no longer shows it, and the
    ONIMBOTDELETE Bitrix24 posts goes to the bot's handler with its id, code and the portal."""
    bot_id = await _register_bot(bx)
    found = deleted_by_hand(bitrix, None)
    assert found is not None
    url, body = found
    event = dict(parse_qsl(body.decode()))
    assert url == "https://svc/events?CLIENT_ID=cid"
    assert event["event"] == "ONIMBOTDELETE" and event["data[BOT_ID]"] == str(bot_id)
    assert event["data[BOT_CODE]"] == "okdesk_rating"
    assert event["auth[application_token]"] == "cid"
    assert event["auth[member_id]"] == bitrix.member_id
    assert (await bx.post("imbot.bot.list")).json()["result"] == []
    assert deleted_by_hand(bitrix, None) is None


@pytest.mark.anyio
async def test_command_register_is_idempotent(bx: httpx.AsyncClient, bitrix: FakeBitrix) -> None:
    """The same COMMAND on the same bot returns the existing command id."""
    bot_id = await _register_bot(bx)
    body = {
        "BOT_ID": bot_id,
        "COMMAND": "rate",
        "HIDDEN": "Y",
        "EVENT_COMMAND_ADD": "https://svc/events",
        "LANG": [{"LANGUAGE_ID": "ru", "TITLE": "Оценка"}],
        "CLIENT_ID": "cid",
    }
    first = (await bx.post("imbot.command.register", json=body)).json()["result"]
    second = (await bx.post("imbot.command.register", json=body)).json()["result"]
    assert first == second == 103
    assert len(bitrix.commands) == 1 and bitrix.commands[103]["HIDDEN"] == "Y"


@pytest.mark.anyio
async def test_message_add_update_and_cant_edit(bx: httpx.AsyncClient, bitrix: FakeBitrix) -> None:
    """Messages get ids from 84400, updates replace text/keyboard, uneditable gives 403."""
    bot_id = await _register_bot(bx)
    add = {"BOT_ID": bot_id, "DIALOG_ID": "27", "MESSAGE": "Оцените", "CLIENT_ID": "cid"}
    message_id = (await bx.post("imbot.message.add", json={**add, "KEYBOARD": KEYBOARD})).json()
    assert message_id["result"] == 84400 and bitrix.messages[84400]["KEYBOARD"] == KEYBOARD
    update = {"BOT_ID": bot_id, "MESSAGE_ID": 84400, "MESSAGE": "Спасибо", "KEYBOARD": "N"}
    response = await bx.post("imbot.message.update", json={**update, "CLIENT_ID": "cid"})
    assert response.json()["result"] is True
    assert bitrix.messages[84400]["MESSAGE"] == "Спасибо"
    assert bitrix.messages[84400]["KEYBOARD"] is None
    bitrix.uneditable.add(84400)
    denied = await bx.post("imbot.message.update", json={**update, "CLIENT_ID": "cid"})
    assert denied.status_code == 403 and denied.json()["error"] == "CANT_EDIT_MESSAGE"
    unknown = await bx.post("imbot.message.update", json={**update, "MESSAGE_ID": 1})
    assert unknown.status_code == 400 and unknown.json()["error"] == "MESSAGE_ID_ERROR"
    empty = await bx.post("imbot.message.add", json={**add, "MESSAGE": " "})
    assert empty.json()["error"] == "MESSAGE_EMPTY"


@pytest.mark.anyio
async def test_errors_auth_unknown_method_and_queued(
    bx: httpx.AsyncClient, bitrix: FakeBitrix
) -> None:
    """Wrong webhook path, unknown method and queued failures answer the documented errors."""
    wrong = await bx.post("https://acme.bitrix24.ru/rest/1/wrong/user.get")
    assert wrong.status_code == 401 and wrong.json()["error"] == "NO_AUTH_FOUND"
    unknown = await bx.post("no.such.method")
    assert unknown.status_code == 400 and unknown.json()["error"] == "ERROR_METHOD_NOT_FOUND"
    bitrix.fail("user.get", 503, 500, "ACCESS_DENIED")
    statuses = [(await bx.post("user.get")).status_code for _ in range(4)]
    assert statuses == [503, 500, 403, 200]
    assert bitrix.rejected_for_limit == 1


@pytest.mark.anyio
async def test_rate_limit_trips_after_burst(bx: httpx.AsyncClient, bitrix: FakeBitrix) -> None:
    """With the leaky bucket on, the request after the burst gets 503 QUERY_LIMIT_EXCEEDED."""
    bitrix.rate_limit, bitrix.burst, bitrix.drain_per_second = True, 5, 0.001
    statuses = [(await bx.post("user.get")).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [503] * 2
    limited = await bx.post("user.get")
    assert limited.json() == _fixture("bitrix24/error_query_limit.json")
    assert bitrix.rejected_for_limit == 3


@pytest.mark.anyio
async def test_batch(bx: httpx.AsyncClient, bitrix: FakeBitrix) -> None:
    """batch runs sub-calls with bracket params and reports errors per key."""
    cmd = {
        "u": "user.get?FILTER[EMAIL]=i.petrov%40romashka.example",
        "bad": "imbot.message.update?MESSAGE_ID=1",
        "nope": "no.such.method",
    }
    response = await bx.post("batch", json={"halt": 0, "cmd": cmd})
    result = response.json()["result"]
    assert response.status_code == 200
    assert result["result"]["u"][0]["ID"] == "27" and result["result_total"] == {"u": 1}
    assert result["result_error"]["bad"]["error"] == "MESSAGE_ID_ERROR"
    assert result["result_error"]["nope"]["error"] == "ERROR_METHOD_NOT_FOUND"
    assert [m for m, _ in bitrix.calls] == [
        "batch",
        "user.get",
        "imbot.message.update",
        "no.such.method",
    ]
    too_many = await bx.post("batch", json={"cmd": {str(i): "user.get" for i in range(51)}})
    assert too_many.status_code == 400


@pytest.mark.anyio
async def test_portal_block_is_switched_through_the_control_api(
    bx: httpx.AsyncClient, bitrix: FakeBitrix
) -> None:
    """Seeding `overloaded` blocks every REST call with 503 OVERLOAD_LIMIT until unseeded."""
    control = "https://acme.bitrix24.ru/_fake/"
    await bx.post(control + "seed", json={"overloaded": True})
    blocked = await bx.post("user.get")
    state = (await bx.get(control + "state")).json()
    await bx.post(control + "seed", json={"overloaded": False})

    assert blocked.status_code == 503 and blocked.json()["error"] == "OVERLOAD_LIMIT"
    assert state["overloaded"] is True
    assert (await bx.post("user.get")).status_code == 200


@pytest.mark.anyio
async def test_successes_announce_when_the_time_budget_resets(
    bx: httpx.AsyncClient, bitrix: FakeBitrix
) -> None:
    """Every success has `time.operating_reset_at`, also per sub-call of a batch."""
    bitrix.operating_reset_at = 1764519000
    plain = (await bx.post("user.get")).json()
    batch = (await bx.post("batch", json={"cmd": {"a": "user.get"}})).json()

    assert plain["time"]["operating_reset_at"] == 1764519000
    assert batch["result"]["result_time"]["a"]["operating_reset_at"] == 1764519000


@pytest.mark.anyio
async def test_okdesk_contact_issue_and_token(ok: httpx.AsyncClient) -> None:
    """Contacts and issues come back as objects; unknown ids `{}` or 404; a wrong token 401."""
    contact = await ok.get("/api/v1/contacts/", params={"id": 11771, **TOKEN})
    assert contact.json()["email"] == "i.petrov@romashka.example"
    no_slash = await ok.get("/api/v1/contacts", params={"id": 11771, **TOKEN})
    assert no_slash.status_code == 200
    assert (await ok.get("/api/v1/contacts/", params={"id": 5, **TOKEN})).json() == {}
    assert (await ok.get("/api/v1/issues/1", params=TOKEN)).json()["status"]["code"] == "closed"
    assert (await ok.get("/api/v1/issues/99", params=TOKEN)).status_code == 404
    denied = await ok.get("/api/v1/issues/1", params={"api_token": "wrong"})
    assert denied.status_code == 401 and denied.json() == {"errors": "Вы не авторизованы"}


@pytest.mark.anyio
async def test_okdesk_rates(ok: httpx.AsyncClient, okdesk: FakeOkdesk) -> None:
    """Both body shapes are accepted; bad values give 422; the issue shows the rate."""
    both = {"rate": "good", "issue": {"rate": "good"}}
    response = await ok.post("/api/v1/issues/1/rates", params=TOKEN, json=both)
    assert response.json() == {"id": 1, "rate": {"id": 1, "value": "good"}}
    wrapped = await ok.post("/api/v1/issues/3/rates", params=TOKEN, json={"issue": {"rate": "bad"}})
    assert wrapped.status_code == 200 and okdesk.issues[3]["rate"]["value"] == "bad"
    invalid = await ok.post("/api/v1/issues/1/rates", params=TOKEN, json={"rate": "5"})
    assert invalid.status_code == 422
    assert invalid.json() == {"errors": {"rate": ["имеет непредусмотренное значение"]}}
    assert (await ok.post("/api/v1/issues/9/rates", params=TOKEN, json=both)).status_code == 404
    assert [issue_id for issue_id, _ in okdesk.rate_posts] == [1, 3]
    okdesk.fail("rate", (429, {"Retry-After": "3"}))
    limited = await ok.post("/api/v1/issues/1/rates", params=TOKEN, json=both)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"


@pytest.mark.anyio
async def test_okdesk_issue_list(ok: httpx.AsyncClient) -> None:
    """The list filters by status and completed_since, orders by id and paginates."""
    query = {"status_codes[]": "closed", "completed_since": "21-08-2024 00:00", **TOKEN}
    found = await ok.get("/api/v1/issues/list", params=query)
    assert [issue["id"] for issue in found.json()] == [1]
    page: dict[str, str | int] = {
        "status_codes[]": "closed",
        "page[size]": 1,
        "page[number]": 2,
        **TOKEN,
    }
    assert [i["id"] for i in (await ok.get("/api/v1/issues/list", params=page)).json()] == [3]
    too_big = await ok.get("/api/v1/issues/list", params={"page[size]": 51, **TOKEN})
    assert too_big.status_code == 422


def test_serve_runs_both_fakes_over_http() -> None:
    """serve.py listens on both ports, exposes /_fake/ and stops cleanly on SIGTERM."""
    args = ["-m", "sandbox.fakes.serve", "--okdesk-port", "0", "--bitrix-port", "0"]
    cwd = Path(__file__).parents[2]
    proc = subprocess.Popen([sys.executable, *args], cwd=cwd, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())
        seed = {"users": [{"ID": "5", "ACTIVE": True, "EMAIL": "a@b.c"}]}
        httpx.post(urls["bitrix"] + "/_fake/seed", json=seed).raise_for_status()
        found = httpx.post(
            urls["bitrix_webhook"] + "user.get.json", json={"filter": {"email": "A@B.C"}}
        )
        assert found.json()["result"][0]["ID"] == "5"
        state = httpx.get(urls["bitrix"] + "/_fake/state").json()
        assert state["calls"] == 1
        assert httpx.get(urls["okdesk"] + "/_fake/state").json()["requests"] == 0
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        watchdog.cancel()
        proc.kill()


@pytest.mark.anyio
async def test_a_user_brief_only_webhook_drops_the_email_filter(
    bx: httpx.AsyncClient, bitrix: FakeBitrix
) -> None:
    """`user_brief` reads no contact data, so Bitrix24 drops the EMAIL filter silently and
    user.get answers everyone (bitrix24.md §6); with `user` the filter holds."""
    bitrix.users.append({"ID": "31", "ACTIVE": True, "NAME": "Ольга", "EMAIL": "o@x.example"})
    wanted = {"FILTER": {"EMAIL": "i.petrov@romashka.example"}}
    found = (await bx.post("user.get", json=wanted)).json()["result"]
    assert [u["ID"] for u in found] == ["27"]
    bitrix.scopes = ["imbot", "im", "user_brief"]
    everyone = (await bx.post("user.get", json=wanted)).json()["result"]
    assert sorted(u["ID"] for u in everyone) == sorted(u["ID"] for u in bitrix.users)


@pytest.mark.anyio
@pytest.mark.parametrize("admin", [True, False])
async def test_profile_over_the_webhook_is_its_owner_and_says_if_an_administrator(
    bx: httpx.AsyncClient, bitrix: FakeBitrix, admin: bool
) -> None:
    """`profile` with the webhook's own auth names the webhook's owner (user 1 of
    /rest/1/<code>/) with `ADMIN` (bitrix24.md §13); no OAuth token is needed."""
    bitrix.owner_is_admin = admin
    answer = await bx.post("profile", json={})
    assert answer.status_code == 200
    assert answer.json()["result"]["ID"] == "1" and answer.json()["result"]["ADMIN"] is admin
