"""Okdesk comments (okdesk.md §7): the fake answers as the reference says, and the client posts
the documented body; the change and ticket buttons round-trip."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.texts.buttons import ChangePress, change_keyboard, parse_change_params, ticket_keyboard
from bot.texts.messages import parse_command_params
from bridge.okdesk.client import OkdeskClient
from bridge.survey.replies.followup import as_html
from harness.payloads import fixture_json, rest_issue
from outbound.errors import RejectedError, TransientError
from sandbox.fakes.okdesk import FakeOkdesk

pytestmark = pytest.mark.anyio
TOKEN = {"api_token": "okdesk-test-token"}
BASE = "https://acme.okdesk.ru"


@pytest.fixture
def okdesk() -> FakeOkdesk:
    fake = FakeOkdesk()
    # The lenient readings: the contact may write, the HTML is kept as sent (both readings of
    # each are in tests/okdesk/test_okdesk_readings.py).
    fake.readings.update({"contact_comments": "accepted", "rewrite_html": False})
    fake.contacts[11771] = fixture_json("okdesk/contact_11771.json")
    fake.issues[5] = rest_issue(5)
    return fake


@pytest.fixture
async def ok(okdesk: FakeOkdesk) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=okdesk.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


async def test_the_fake_takes_a_wrapped_or_flat_comment_and_lists_it(
    ok: httpx.AsyncClient,
) -> None:
    wrapped = {"comment": {"content": "a<br>b", "author_id": 11771, "author_type": "contact"}}
    first = await ok.post("/api/v1/issues/5/comments", params=TOKEN, json=wrapped)
    flat = {"content": "x", "author_id": 3, "public": True}
    second = await ok.post("/api/v1/issues/5/comments", params=TOKEN, json=flat)
    assert first.status_code == 200 and second.status_code == 200

    listed = (await ok.get("/api/v1/issues/5/comments", params=TOKEN)).json()
    assert [(c["content"], c["public"], c["author"]) for c in listed] == [
        ("a<br>b", False, {"id": 11771, "name": "Петров Иван", "type": "contact"}),
        ("x", True, {"id": 3, "name": None, "type": "employee"}),
    ]
    assert set(listed[0]) == {"id", "content", "public", "attachments", "author", "published_at"}


async def test_the_fake_refuses_a_comment_without_author_or_content(
    ok: httpx.AsyncClient,
) -> None:
    missing = await ok.post("/api/v1/issues/5/comments", params=TOKEN, json={"content": "x"})
    assert missing.status_code == 422
    assert missing.json() == {"errors": {"author_id": ["отсутствует"]}}
    empty = {"comment": {"author_id": 1, "author_type": "robot"}}
    refused = await ok.post("/api/v1/issues/5/comments", params=TOKEN, json=empty)
    assert set(refused.json()["errors"]) == {"content", "author_type"}
    gone = await ok.post("/api/v1/issues/9/comments", params=TOKEN, json={"comment": {}})
    assert gone.status_code == 404


async def test_the_client_posts_the_documented_body_as_the_contact(okdesk: FakeOkdesk) -> None:
    sent: list[dict[str, object]] = []

    async def record(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return await okdesk_transport.handle_async_request(request)

    okdesk_transport = httpx.ASGITransport(app=okdesk.app)
    async with httpx.MockTransport(record) as wire:
        client = OkdeskClient(wire, BASE, "okdesk-test-token", timeout=5)
        await client.comment_issue(
            5,
            content=as_html("<b>плохо</b>\nсовсем"),
            author_id=11771,
            author_type="contact",
            public=False,
        )
    assert sent == [
        {
            "comment": {
                "content": "&lt;b&gt;плохо&lt;/b&gt;<br>совсем",
                "author_id": 11771,
                "author_type": "contact",
                "public": False,
            }
        }
    ]
    assert okdesk.comments[5][0]["author"]["type"] == "contact"


@pytest.mark.parametrize(("status", "error"), [(503, TransientError), (422, RejectedError)])
async def test_a_failed_comment_is_retried_or_refused(
    okdesk: FakeOkdesk, status: int, error: type[Exception]
) -> None:
    okdesk.fail("comment", status)
    async with httpx.ASGITransport(app=okdesk.app) as wire:
        client = OkdeskClient(wire, BASE, "okdesk-test-token", timeout=5)
        with pytest.raises(error):
            await client.comment_issue(
                5, content="x", author_id=11771, author_type="contact", public=False
            )


def test_the_change_button_and_the_ticket_buttons_round_trip() -> None:
    (change,) = change_keyboard("s7Kq2m", "ru", 2)["BUTTONS"]
    assert change["TEXT"] == "Изменить оценку" and change["COMMAND"] == "rate"
    assert parse_change_params(change["COMMAND_PARAMS"]) == ChangePress("s7Kq2m", 2)
    assert parse_change_params("s7Kq2m:change") == ChangePress("s7Kq2m", None)
    assert parse_command_params(change["COMMAND_PARAMS"]) is None
    assert parse_change_params("s7Kq2m:4") is None and parse_change_params("a b:change") is None
    assert parse_change_params("s7Kq2m:change:x") is None

    buttons = ticket_keyboard([("tokA", 101, None), ("tokB", 102, None)], 4, "en")["BUTTONS"]
    assert [b["TEXT"] for b in buttons] == ["#101", "#102"]
    assert [parse_command_params(b["COMMAND_PARAMS"]) for b in buttons] == [
        ("tokA", 4),
        ("tokB", 4),
    ]
