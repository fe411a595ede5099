"""The fake Okdesk answers each unsettled point (okdesk.md §12) both ways, the harsher by
default: comment HTML rewritten, a contact's comment refused, a second rating ignored or
refused, a missing contact `200 {}`; and an answer can be lost after the work is done."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from harness.payloads import fixture_json, rest_issue
from sandbox.fakes.okdesk import FakeOkdesk
from sandbox.fakes.okdesk.readings import rewritten

pytestmark = pytest.mark.anyio
TOKEN = {"api_token": "okdesk-test-token"}
BASE = "https://acme.okdesk.ru"
CONTACT = {"comment": {"content": "x", "author_id": 11771, "author_type": "contact"}}


@pytest.fixture
def okdesk() -> FakeOkdesk:
    fake = FakeOkdesk()
    fake.contacts[11771] = fixture_json("okdesk/contact_11771.json")
    fake.issues[5] = rest_issue(5)
    return fake


@pytest.fixture
async def ok(okdesk: FakeOkdesk) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=okdesk.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("a<br>b", "<p>a<br />b</p>"),
        ("&lt;b&gt; it&#39;s «ок»", "<p>&lt;b&gt; it&#x27;s &#171;ок&#187;</p>"),
        ("<p>done</p>", "<p>done</p>"),
    ],
)
def test_a_comment_is_stored_rewritten_as_a_sanitiser_would(sent: str, stored: str) -> None:
    assert rewritten(sent) == stored


async def test_by_default_the_html_is_rewritten_and_a_contact_may_not_write(
    okdesk: FakeOkdesk, ok: httpx.AsyncClient
) -> None:
    employee = {"comment": {"content": "a<br>b", "author_id": 52}}
    assert (await ok.post("/api/v1/issues/5/comments", params=TOKEN, json=employee)).is_success
    refused = await ok.post("/api/v1/issues/5/comments", params=TOKEN, json=CONTACT)
    assert refused.status_code == 403 and "errors" in refused.json()
    listed = (await ok.get("/api/v1/issues/5/comments", params=TOKEN)).json()
    assert [c["content"] for c in listed] == ["<p>a<br />b</p>"]


async def test_the_other_readings_keep_the_html_and_take_the_contacts_comment(
    okdesk: FakeOkdesk, ok: httpx.AsyncClient
) -> None:
    okdesk.control_seed({"readings": {"rewrite_html": False, "contact_comments": "accepted"}})
    assert (await ok.post("/api/v1/issues/5/comments", params=TOKEN, json=CONTACT)).is_success
    assert [c["content"] for c in okdesk.comments[5]] == ["x"]


@pytest.mark.parametrize(
    ("reading", "status", "shown"),
    [("ignored", 200, "bad"), ("refused", 422, "bad"), ("replaced", 200, "good")],
)
async def test_a_second_rating_is_ignored_refused_or_replaces_the_first(
    okdesk: FakeOkdesk, ok: httpx.AsyncClient, reading: str, status: int, shown: str
) -> None:
    if reading != "ignored":
        okdesk.readings.update({"second_rating": reading})
    first = await ok.post("/api/v1/issues/5/rates", params=TOKEN, json={"rate": "bad"})
    second = await ok.post("/api/v1/issues/5/rates", params=TOKEN, json={"rate": "good"})
    assert first.status_code == 200 and second.status_code == status
    issue = (await ok.get("/api/v1/issues/5", params=TOKEN)).json()
    assert issue["rate"]["value"] == shown


@pytest.mark.parametrize(("reading", "status", "body"), [("empty", 200, {}), ("404", 404, None)])
async def test_a_missing_contact_is_an_empty_object_or_404(
    okdesk: FakeOkdesk, ok: httpx.AsyncClient, reading: str, status: int, body: object
) -> None:
    okdesk.readings.update({"missing_contact": reading})
    answer = await ok.get("/api/v1/contacts/", params={**TOKEN, "id": "999"})
    assert answer.status_code == status
    assert body is None or answer.json() == body


async def test_a_lost_answer_is_a_504_after_the_comment_was_stored(
    okdesk: FakeOkdesk, ok: httpx.AsyncClient
) -> None:
    okdesk.control_fail("comment", ["lost"])
    employee = {"comment": {"content": "x", "author_id": 52}}
    lost = await ok.post("/api/v1/issues/5/comments", params=TOKEN, json=employee)
    assert lost.status_code == 504 and len(okdesk.comments[5]) == 1


def test_an_unknown_reading_is_refused() -> None:
    with pytest.raises(ValueError, match="second_rating"):
        FakeOkdesk().readings.update({"second_rating": "maybe"})
