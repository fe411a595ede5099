"""Okdesk data as Okdesk shows it: the fake's ticket list and issue answers, the client's ticket
read and list, and how odd vendor data is read (cleaned, or left out), never raised on."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from bridge.okdesk.client import OkdeskClient
from bridge.okdesk.data import (
    OkdeskWebhook,
    Ticket,
    TicketContext,
    TicketPage,
    clean_text,
    list_date,
    optional_id,
    read_emails,
    read_ticket,
    read_time,
)
from harness.constants import FIXTURES as ALL_FIXTURES
from harness.payloads import fixture_json
from outbound.errors import RejectedError, TransientError
from sandbox.fakes.okdesk import FakeOkdesk

pytestmark = pytest.mark.anyio

BASE = "https://acme.okdesk.ru"
TOKEN = "okdesk-test-token"
AUTH = {"api_token": TOKEN}
FIXTURES = ALL_FIXTURES / "okdesk"
ACCOUNT_ZONE = timezone(timedelta(hours=7))


def _rest_issue(issue_id: int, **changes: Any) -> dict[str, Any]:
    """A ticket as `GET /api/v1/issues/{id}` shows it (okdesk.md §5)."""
    issue: dict[str, Any] = {
        "id": issue_id,
        "title": "Касса не печатает чек",
        "description": "Чек не выходит<br>Касса 2",
        "created_at": "2024-08-21T14:27:53.441+07:00",
        "completed_at": "2024-08-24T17:26:19.298+07:00",
        "company_id": 2058,
        "type": {"id": 1, "code": "service", "name": "Обслуживание", "available_for_client": True},
        "priority": {"code": "normal", "name": "Важная"},
        "status": {"code": "closed", "name": "Закрыта"},
        "old_status": {"code": "completed", "name": "Решена"},
        "rate": None,
        "contact": {"id": 11771, "name": "Петров Иван"},
        "assignee": {"id": 52, "name": "Карпенко Алексей"},
        "author": {"id": 11771, "name": "Петров Иван"},
        "observers": [],
        "parameters": [],
    }
    issue.update(changes)
    return issue


# The fixture ticket's title, engineer, rate and completion time, as read.
COMPLETED = datetime(2024, 8, 24, 17, 26, 19, 298000, tzinfo=ACCOUNT_ZONE)
TICKET_TAIL = ("Касса не печатает чек", "Карпенко Алексей", None, COMPLETED)


def _contact(**changes: Any) -> dict[str, Any]:
    contact: dict[str, Any] = json.loads((FIXTURES / "contact_11771.json").read_text("utf-8"))
    contact.update(changes)
    return contact


@pytest.fixture
def anyio_backend() -> str:
    """Run the async tests on asyncio."""
    return "asyncio"


@pytest.fixture
def fake() -> FakeOkdesk:
    """An Okdesk fake holding the fixture contact."""
    okdesk = FakeOkdesk(api_token=TOKEN)
    okdesk.contacts[11771] = _contact()
    return okdesk


@pytest.fixture
async def raw(fake: FakeOkdesk) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the fake."""
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


@pytest.fixture
async def okdesk(fake: FakeOkdesk) -> AsyncIterator[OkdeskClient]:
    """Our client, talking to the fake."""
    async with httpx.ASGITransport(app=fake.app) as wire:
        yield OkdeskClient(wire, BASE, TOKEN, timeout=5)


# --- the fake answers as Okdesk does ---------------------------------------------------------


async def test_fake_list_filters_completed_since_by_date_only(
    fake: FakeOkdesk, raw: httpx.AsyncClient
) -> None:
    fake.issues[1] = _rest_issue(1, completed_at="2024-08-20T09:00:00.000+07:00")
    # Late that evening in the account's zone, though already the next day in UTC.
    fake.issues[2] = _rest_issue(2, completed_at="2024-08-20T23:30:00.000-05:00")

    def listed(since: str) -> Any:
        return raw.get("/api/v1/issues/list", params={"completed_since": since, **AUTH})

    assert [i["id"] for i in (await listed("20-08-2024 23:59")).json()] == [1, 2]
    assert [i["id"] for i in (await listed("20-08-2024")).json()] == [1, 2]
    assert [i["id"] for i in (await listed("21-08-2024 00:00")).json()] == []
    wrong = await listed("2024-08-20")
    assert wrong.status_code == 422
    assert wrong.json() == {"errors": {"completed_since": ["Неверный формат даты"]}}


async def test_fake_list_is_an_array_of_rest_issues_in_pages_of_at_most_50(
    fake: FakeOkdesk, raw: httpx.AsyncClient
) -> None:
    for issue_id in range(1, 53):
        fake.issues[issue_id] = _rest_issue(issue_id)

    first = await raw.get("/api/v1/issues/list", params={"page[size]": 50, **AUTH})
    second = await raw.get(
        "/api/v1/issues/list", params={"page[size]": 50, "page[number]": 2, **AUTH}
    )
    too_big = await raw.get("/api/v1/issues/list", params={"page[size]": 51, **AUTH})

    assert [i["id"] for i in first.json()] == list(range(1, 51))
    assert first.json()[0] == _rest_issue(1)
    assert [i["id"] for i in second.json()] == [51, 52]
    assert too_big.status_code == 422
    assert too_big.json() == {"errors": {"page": {"size": ["должно быть меньше или равно 50"]}}}


async def test_fake_sends_text_that_is_not_valid_unicode_escaped(
    fake: FakeOkdesk, raw: httpx.AsyncClient
) -> None:
    fake.issues[1] = _rest_issue(1, title="Касса \ud800")

    answer = await raw.get("/api/v1/issues/1", params=AUTH)
    listed = await raw.get("/api/v1/issues/list", params=AUTH)

    assert answer.status_code == 200 and answer.json()["title"] == "Касса \ud800"
    assert b"\\ud800" in answer.content
    assert listed.json()[0]["title"] == "Касса \ud800"


# --- reading a ticket ------------------------------------------------------------------------


async def test_ticket_reads_the_rest_shape(fake: FakeOkdesk, okdesk: OkdeskClient) -> None:
    fake.issues[314599] = _rest_issue(314599, rate={"id": 3, "value": "normal"})

    ticket = await okdesk.ticket(314599)

    assert ticket == Ticket(
        id=314599,
        status="closed",
        contact_id=11771,
        title="Касса не печатает чек",
        engineer="Карпенко Алексей",
        rate="normal",
        completed_at=datetime(2024, 8, 24, 10, 26, 19, 298000, tzinfo=UTC),
    )
    assert await okdesk.issue_rate(314599) == "normal"


async def test_ticket_reads_the_webhook_shape_defensively(
    fake: FakeOkdesk, okdesk: OkdeskClient
) -> None:
    employee = {"id": 52, "first_name": "Алексей", "last_name": "Карпенко", "patronymic": ""}
    fake.issues[314599] = _rest_issue(
        314599,
        contact=None,
        client={"company": {"id": 2058, "name": "ООО Ромашка"}, "contact": {"id": "11771"}},
        assignee={"group": {"id": 1, "name": "Сервис"}, "employee": employee},
        rate="good",
    )

    ticket = await okdesk.ticket(314599)

    assert ticket is not None
    assert (ticket.contact_id, ticket.engineer, ticket.rate) == (11771, "Алексей Карпенко", "good")


async def test_a_ticket_that_is_gone_reads_as_none(fake: FakeOkdesk, okdesk: OkdeskClient) -> None:
    assert await okdesk.ticket(404404) is None
    assert await okdesk.issue_rate(404404) is None


async def test_a_ticket_okdesk_refuses_to_show_is_rejected(
    fake: FakeOkdesk, okdesk: OkdeskClient
) -> None:
    fake.issues[314599] = _rest_issue(314599)
    fake.fail("issue", 403, 503)

    with pytest.raises(RejectedError) as refused:
        await okdesk.ticket(314599)
    assert not isinstance(refused.value, TransientError)
    with pytest.raises(TransientError):
        await okdesk.ticket(314599)


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"contact": "x"}, "contact_id", None),
        ({"contact": {"id": "n/a"}}, "contact_id", None),
        ({"contact": {"id": 2**63}}, "contact_id", None),
        ({"contact": "x", "client": {"contact": {"id": 7}}}, "contact_id", 7),
        ({"assignee": 5}, "engineer", None),
        ({"assignee": {"id": 52, "name": 7}}, "engineer", "7"),
        ({"assignee": {"id": 52, "name": "  "}}, "engineer", None),
        ({"assignee": {"name": "Я" * 400}}, "engineer", "Я" * 300),
        ({"title": "x" * 5000}, "title", "x" * 1000),
        ({"title": "Касса \ud800"}, "title", "Касса ?"),
        ({"title": "Кас\x00са"}, "title", "Касса"),
        ({"title": ["Касса"]}, "title", None),
        ({"status": "closed"}, "status", "closed"),
        ({"status": {"code": 5}}, "status", None),
        ({"status": None}, "status", None),
        ({"rate": 5}, "rate", None),
        ({"rate": {"id": 1, "value": ""}}, "rate", None),
        ({"completed_at": "вчера"}, "completed_at", None),
        ({"completed_at": "2024-08-24T17:26:19"}, "completed_at", None),
        ({"completed_at": 1724495179}, "completed_at", None),
    ],
)
def test_odd_fields_of_a_ticket_read_as_clean_or_unknown(
    changes: dict[str, Any], field: str, expected: object
) -> None:
    ticket = read_ticket(_rest_issue(314599, **changes))

    assert ticket is not None and getattr(ticket, field) == expected


@pytest.mark.parametrize(
    "item", [None, "junk", 5, [], {"id": None}, {"id": "abc"}, {"id": True}, {"title": "x"}]
)
def test_an_item_without_a_usable_id_is_no_ticket(item: object) -> None:
    assert read_ticket(item) is None


def test_a_ticket_read_by_id_keeps_the_id_asked_for() -> None:
    ticket = read_ticket({"id": "n/a", "status": {"code": "closed"}}, 314599)

    assert ticket is not None and (ticket.id, ticket.status) == (314599, "closed")


# --- the list of completed tickets -----------------------------------------------------------


async def test_completed_tickets_asks_by_date_with_the_zone_margin_and_a_day_of_overlap() -> None:
    asked: list[httpx.URL] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return httpx.Response(200, json=[_rest_issue(1)])

    since = datetime(2024, 8, 24, 10, 0, tzinfo=UTC)
    async with httpx.MockTransport(answer) as wire:
        page = await OkdeskClient(wire, BASE, TOKEN, timeout=5).completed_tickets(
            ["closed", "completed"], since, page=2
        )

    assert page == TicketPage([Ticket(1, "closed", 11771, *TICKET_TAIL)], 1)
    params = asked[0].params
    assert params["completed_since"] == "22-08-2024"  # 10:00 UTC, less 14 hours and a day
    assert params.get_list("status_codes[]") == ["closed", "completed"]
    assert (params["page[size]"], params["page[number]"], params["api_token"]) == ("50", "2", TOKEN)


def test_list_date_is_okdesks_date_of_the_earliest_day_wanted() -> None:
    assert list_date(datetime(2024, 8, 24, 15, 0, tzinfo=UTC)) == "23-08-2024"
    assert list_date(datetime(2024, 8, 24, 13, 59, tzinfo=UTC)) == "22-08-2024"
    # 16:00 in Moscow is 13:00 UTC: the day is counted from UTC, not from the local clock.
    moscow = timezone(timedelta(hours=3))
    assert list_date(datetime(2024, 8, 25, 16, 0, tzinfo=moscow)) == "23-08-2024"


async def test_items_that_are_no_tickets_are_logged_and_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [_rest_issue(1), "junk", None, {"id": "abc", "title": "x"}, _rest_issue(2, id="2")]

    async with httpx.MockTransport(lambda _: httpx.Response(200, json=items)) as wire:
        okdesk = OkdeskClient(wire, BASE, TOKEN, timeout=5)
        with caplog.at_level(logging.WARNING, logger="bridge.okdesk"):
            page = await okdesk.completed_tickets(["closed"], datetime.now(UTC), page=3)

    assert [t.id for t in page.tickets] == [1, 2] and page.listed == 5
    assert [r.getMessage() for r in caplog.records] == [
        "okdesk.list_item_skipped page=3 item=2 reason=not an object",
        "okdesk.list_item_skipped page=3 item=3 reason=not an object",
        "okdesk.list_item_skipped page=3 item=4 reason=no usable id",
    ]


@pytest.mark.parametrize("body", [b"{}", b'{"issues": []}', b"null", b'"[]"'])
async def test_a_list_answer_that_is_no_array_is_transient(body: bytes) -> None:
    answer = httpx.Response(200, content=body, headers={"content-type": "application/json"})
    async with httpx.MockTransport(lambda _: answer) as wire:
        with pytest.raises(TransientError, match="ticket list"):
            await OkdeskClient(wire, BASE, TOKEN, timeout=5).completed_tickets(
                ["closed"], datetime.now(UTC), page=1
            )


# --- contacts' e-mail fields -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"email": None, "additional_emails": 5, "cc_email": "cc@x.ru"}, "cc@x.ru"),
        ({"email": None, "additional_emails": True, "cc_email": "cc@x.ru"}, "cc@x.ru"),
        ({"email": None, "additional_emails": {"0": "a@x.ru"}, "cc_email": "cc@x.ru"}, "cc@x.ru"),
        ({"email": None, "additional_emails": "second@x.ru"}, "second@x.ru"),
        ({"email": None, "additional_emails": "second@x.ru; third@x.ru"}, "second@x.ru"),
        ({"email": None, "additional_emails": [5, None, {"a": 1}, "ok@x.ru"]}, "ok@x.ru"),
        ({"email": None, "additional_emails": ["@", "x@", "@x.ru", "a@b@c"]}, None),
        ({"email": "Иван Петров <i.petrov@x.ru>"}, "i.petrov@x.ru"),
        ({"email": "i.pet\x00rov@x.ru"}, "i.petrov@x.ru"),
        ({"email": None, "additional_emails": [], "cc_email": ["cc@x.ru"]}, "cc@x.ru"),
    ],
)
async def test_odd_email_fields_give_what_is_usable(
    fake: FakeOkdesk, okdesk: OkdeskClient, changes: dict[str, Any], expected: str | None
) -> None:
    fake.contacts[11771] = _contact(**changes)

    assert await okdesk.contact_email(11771) == expected


def test_read_emails_takes_every_address_in_order() -> None:
    assert read_emails(["a@x.ru, b@x.ru", 7, "c@x.ru"]) == ["a@x.ru", "b@x.ru", "c@x.ru"]
    assert read_emails("x" * 300 + "@x.ru") == []
    assert read_emails(None) == read_emails(12345) == []


# --- ids, text and times ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (153, 153),
        ("153", 153),
        (" 42 ", 42),
        (2**63 - 1, 2**63 - 1),
        (2**63, None),
        (str(2**63), None),
        ("9" * 5000, None),
        (0, None),
        (-5, None),
        ("-5", None),
        ("+5", None),
        ("１２３", None),
        (True, None),
        (1.0, None),
        (None, None),
        ({"id": 1}, None),
    ],
)
def test_optional_id(value: object, expected: int | None) -> None:
    assert optional_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Касса", "Касса"),
        ("a\x00b", "ab"),
        ("\ud800x", "?x"),
        ("x" * 20, "x" * 10),
        (12345, "12345"),
        (True, None),
        (None, None),
        (["x"], None),
        ({"x": 1}, None),
    ],
)
def test_clean_text(value: object, expected: str | None) -> None:
    assert clean_text(value, 10) == expected


def test_read_time_needs_a_zone() -> None:
    expected = datetime(2024, 8, 24, 17, 26, 19, 298000, tzinfo=ACCOUNT_ZONE)
    assert read_time("2024-08-24T17:26:19.298+07:00") == expected
    assert read_time("2024-08-24T17:26:19") is None
    assert read_time("24-08-2024 17:26") is None
    assert read_time("\ud800") is None


def test_the_closure_webhook_names_what_reports_group_by() -> None:
    webhook = OkdeskWebhook.model_validate(fixture_json("okdesk/webhook_issue_closed.json"))

    assert webhook.context == TicketContext(
        group="Сервис",
        company_id=2058,
        company="ООО Ромашка",
        type_code="service",
        priority_code="normal",
        engineer_id=52,
    )


def test_a_webhook_without_group_company_type_or_priority_is_read_all_the_same() -> None:
    payload = fixture_json("okdesk/webhook_issue_closed.json")
    payload["issue"].pop("type")
    payload["issue"]["priority"] = None
    payload["issue"]["client"]["company"] = None
    payload["issue"]["assignee"] = {"group": None, "employee": None}

    assert OkdeskWebhook.model_validate(payload).context == TicketContext()
