"""Missed webhooks: closures Okdesk told nobody about are found through the API."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from bridge.okdesk.client import OkdeskClient
from bridge.survey import closures
from bridge.worker.reconcile import WATERMARK, reconcile
from harness.app import running_app
from harness.constants import ISSUE_ID, OKDESK_BASE, OKDESK_TOKEN
from harness.payloads import closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from outbound.errors import TransientError
from storage import status
from storage.db import transaction
from storage.tables import SurveyState, utcnow
from tests.databases import surveys

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _seeded_ticket_closed_long_ago(vendors: Vendors) -> None:
    """The fixtures' ticket was completed in 2024: a run lists only the closures a test makes."""
    vendors.okdesk.issues[ISSUE_ID]["completed_at"] = "2024-08-24T17:26:19.298+07:00"


def _closed_today(vendors: Vendors, *issue_ids: int) -> None:
    stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    for issue_id in issue_ids:
        vendors.okdesk.issues[issue_id] = dict(rest_issue(issue_id), completed_at=stamp)


async def test_closures_missed_while_down_get_their_surveys(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    _closed_today(vendors, 501, 502, 503)
    vendors.okdesk.issues[503]["rate"] = {"id": 1, "value": "good"}
    settings = make_settings(database_url, reconcile_interval="1h")
    async with running_app(settings, vendors) as app:
        assert (await app.webhook(closed_webhook(501))).json()["result"] == "accepted"
        await eventually(lambda: len(surveys(engine)) == 2)
        await eventually(lambda: all(s.state == SurveyState.AWAITING for s in surveys(engine)))
    assert sorted(s.issue_id for s in surveys(engine)) == [501, 502]
    assert len(vendors.bitrix.messages) == 2
    listed = [path for method, path in vendors.okdesk.requests if path.endswith("/issues/list")]
    assert listed


async def test_reconciliation_runs_once_per_interval_and_can_be_off(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    _closed_today(vendors, 601)
    settings = make_settings(database_url, reconcile_interval="1h")
    now = utcnow()
    async with vendors.transport as wire:
        okdesk = OkdeskClient(wire, OKDESK_BASE, OKDESK_TOKEN, timeout=5)
        assert await reconcile(engine, settings, okdesk, now) == 1
        assert await reconcile(engine, settings, okdesk, now + timedelta(minutes=5)) is None
        assert await reconcile(engine, settings, okdesk, now + timedelta(hours=2)) == 0
        off = make_settings(database_url)
        assert await reconcile(engine, off, okdesk, now + timedelta(hours=5)) is None
    assert [s.issue_id for s in surveys(engine)] == [601]


async def test_okdesk_down_during_reconciliation_keeps_the_watermark(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    _closed_today(vendors, 701)
    vendors.okdesk.fail("list", 503)
    settings = make_settings(database_url, reconcile_interval="1m")
    now = utcnow()
    async with vendors.transport as wire:
        okdesk = OkdeskClient(wire, OKDESK_BASE, OKDESK_TOKEN, timeout=5)
        with pytest.raises(TransientError):
            await reconcile(engine, settings, okdesk, now)
        assert await reconcile(engine, settings, okdesk, now + timedelta(minutes=2)) == 1
    assert [s.issue_id for s in surveys(engine)] == [701]


# --- Okdesk lists by date: we keep what is new, and read each ticket again -----------------

ACCOUNT_ZONE = timezone(timedelta(hours=7))
Items = list[Any]


def _completed(vendors: Vendors, issue_id: int, at: datetime, **changes: Any) -> None:
    """A closed ticket, completed at `at`, written as Okdesk does (account zone, milliseconds)."""
    stamp = at.astimezone(ACCOUNT_ZONE).isoformat(timespec="milliseconds")
    vendors.okdesk.issues[issue_id] = {**rest_issue(issue_id), "completed_at": stamp, **changes}


class ListTap(httpx.AsyncBaseTransport):
    """Between us and the fakes: keeps each ticket list's query, and lets a test change the
    list's answer, or Okdesk itself, once the list has been answered."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, after_list: Callable[[Items], Items] | None = None
    ) -> None:
        self.inner = inner
        self.after_list = after_list or (lambda items: items)
        self.list_queries: list[httpx.QueryParams] = []
        self.listed_ids: list[Any] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Pass the request on; hand a successful list answer to `after_list`."""
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/issues/list") or response.status_code != 200:
            return response
        self.list_queries.append(request.url.params)
        items = json.loads(await response.aread())
        self.listed_ids += [item.get("id") for item in items]
        return httpx.Response(200, json=self.after_list(items))


async def _reconcile_once(
    engine: Engine, settings: Settings, transport: httpx.AsyncBaseTransport, now: datetime
) -> int | None:
    okdesk = OkdeskClient(transport, OKDESK_BASE, OKDESK_TOKEN, timeout=5)
    async with transport:
        return await reconcile(engine, settings, okdesk, now)


def _watermark(engine: Engine) -> str | None:
    with transaction(engine) as session:
        stored = status.get_status(session, key=WATERMARK)
        return stored.value if stored is not None else None


def _surveyed(engine: Engine) -> list[int]:
    return sorted(s.issue_id for s in surveys(engine))


def _reads(vendors: Vendors, issue_id: int) -> int:
    return vendors.okdesk.requests.count(("GET", f"/api/v1/issues/{issue_id}"))


async def test_the_list_is_asked_by_date_and_only_closures_since_the_watermark_count(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 901, now - timedelta(hours=30))  # listed (same days), before the mark
    _completed(vendors, 902, now - timedelta(hours=1))
    settings = make_settings(database_url, reconcile_interval="1h", reconcile_lookback="1d")
    tap = ListTap(vendors.transport)

    assert await _reconcile_once(engine, settings, tap, now) == 1

    assert _surveyed(engine) == [902]
    assert tap.listed_ids == [901, 902]
    asked = tap.list_queries[0]["completed_since"]
    assert re.fullmatch(r"\d\d-\d\d-\d{4}", asked)
    # The watermark, less the 14-hour zone margin and a day of overlap.
    assert asked == (now - timedelta(days=2, hours=14)).strftime("%d-%m-%Y")
    assert _watermark(engine) == now.isoformat()


async def test_closures_older_than_the_maximum_age_get_no_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 911, now - timedelta(days=3, hours=20))  # listed, but too old
    _completed(vendors, 912, now - timedelta(days=2))
    settings = make_settings(database_url, reconcile_interval="1h", reconcile_lookback="10d")
    tap = ListTap(vendors.transport)

    assert await _reconcile_once(engine, settings, tap, now) == 1

    assert _surveyed(engine) == [912]
    assert tap.listed_ids == [911, 912]
    assert tap.list_queries[0]["completed_since"] == (now - timedelta(days=4, hours=14)).strftime(
        "%d-%m-%Y"
    )


async def test_a_ticket_reopened_after_it_was_listed_gets_no_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 921, now - timedelta(hours=1))

    def reopen(items: Items) -> Items:
        vendors.okdesk.issues[921]["status"] = {"code": "opened", "name": "Открыта"}
        return items

    settings = make_settings(database_url, reconcile_interval="1h")
    tap = ListTap(vendors.transport, after_list=reopen)

    assert await _reconcile_once(engine, settings, tap, now) == 0

    assert _surveyed(engine) == []
    assert _reads(vendors, 921) == 1
    assert _watermark(engine) == now.isoformat()


async def test_a_listed_ticket_without_a_rate_is_read_again_before_its_survey(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 931, now - timedelta(hours=1), rate={"id": 4, "value": "good"})
    _completed(vendors, 932, now - timedelta(hours=1))

    def without_rate(items: Items) -> Items:
        return [{k: v for k, v in item.items() if k != "rate"} for item in items]

    settings = make_settings(database_url, reconcile_interval="1h")
    tap = ListTap(vendors.transport, after_list=without_rate)

    assert await _reconcile_once(engine, settings, tap, now) == 1

    assert _surveyed(engine) == [932]
    assert _reads(vendors, 931) == 1


async def test_a_listed_ticket_without_a_readable_completion_time_is_kept(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 941, now - timedelta(hours=1))
    _completed(vendors, 942, now - timedelta(hours=1))
    _completed(vendors, 943, now - timedelta(days=3, hours=20))

    def garbled(items: Items) -> Items:
        for item in items:
            item["completed_at"] = "вчера" if item["id"] != 942 else None
        return items

    settings = make_settings(database_url, reconcile_interval="1h", reconcile_lookback="10d")
    tap = ListTap(vendors.transport, after_list=garbled)

    assert await _reconcile_once(engine, settings, tap, now) == 2

    # Read again, 943 shows that it completed too long ago.
    assert _surveyed(engine) == [941, 942]
    assert _reads(vendors, 943) == 1


async def test_closures_that_already_have_a_survey_are_not_read_again(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 951, now - timedelta(hours=1))
    change = closures.StatusChange(951, "closed", 11771, "Касса не печатает чек", None)
    closures.record_status_change(engine, make_settings(database_url), change, now)
    settings = make_settings(database_url, reconcile_interval="1h")

    assert await _reconcile_once(engine, settings, vendors.transport, now) == 0

    assert _surveyed(engine) == [951]
    assert _reads(vendors, 951) == 0


async def test_a_ticket_okdesk_refuses_to_show_is_skipped_and_the_run_goes_on(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 961, now - timedelta(hours=1))
    _completed(vendors, 962, now - timedelta(hours=1))
    vendors.okdesk.fail("issue", 403)
    settings = make_settings(database_url, reconcile_interval="1h")

    assert await _reconcile_once(engine, settings, vendors.transport, now) == 1

    assert _surveyed(engine) == [962]
    assert _watermark(engine) == now.isoformat()


async def test_okdesk_down_while_a_ticket_is_read_keeps_the_watermark(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    now = utcnow()
    _completed(vendors, 971, now - timedelta(hours=1))
    vendors.okdesk.fail("issue", 503)
    settings = make_settings(database_url, reconcile_interval="1m", reconcile_lookback="1d")

    with pytest.raises(TransientError):
        await _reconcile_once(engine, settings, vendors.transport, now)
    assert _watermark(engine) == (now - timedelta(days=1)).isoformat()

    later = now + timedelta(minutes=2)
    assert await _reconcile_once(engine, settings, vendors.transport, later) == 1
    assert _surveyed(engine) == [971]


# --- odd vendor data fails one item, never the run -------------------------------------------

ODD_BUT_USABLE: dict[str, tuple[dict[str, Any], Callable[[Any], bool]]] = {
    "contact is a string": ({"contact": "x"}, lambda s: s.contact_id is None),
    "assignee is a number": ({"assignee": 5}, lambda s: s.engineer is None),
    "title of 12000 characters": ({"title": "Касса " * 2000}, lambda s: len(s.issue_title) == 1000),
    "lone surrogate in the title": (
        {"title": "Касса \ud800"},
        lambda s: s.issue_title == "Касса ?",
    ),
    "NUL in the title": ({"title": "Касса\x00 молчит"}, lambda s: s.issue_title == "Касса молчит"),
    "title is a number": ({"title": 12345}, lambda s: s.issue_title == "12345"),
    "engineer name of 400 characters": (
        {"assignee": {"id": 52, "name": "Я" * 400}},
        lambda s: s.engineer == "Я" * 300,
    ),
    "contact id beyond BIGINT": (
        {"contact": {"id": 2**63, "name": "Петров Иван"}},
        lambda s: s.contact_id is None,
    ),
    "contact only under client": (
        {"contact": None, "client": {"company": None, "contact": {"id": "11771"}}},
        lambda s: s.contact_id == 11771,
    ),
}


@pytest.mark.parametrize("shape", list(ODD_BUT_USABLE))
async def test_a_ticket_with_an_odd_field_is_cleaned_and_surveyed(
    database_url: str, engine: Engine, vendors: Vendors, shape: str
) -> None:
    changes, check = ODD_BUT_USABLE[shape]
    now = utcnow()
    _completed(vendors, 801, now - timedelta(hours=1))
    _completed(vendors, 802, now - timedelta(hours=1), **changes)
    _completed(vendors, 803, now - timedelta(hours=1))
    settings = make_settings(database_url, reconcile_interval="1h")

    assert await _reconcile_once(engine, settings, vendors.transport, now) == 3

    odd = next(s for s in surveys(engine) if s.issue_id == 802)
    assert check(odd), odd
    assert _surveyed(engine) == [801, 802, 803]
    assert _watermark(engine) == now.isoformat()


UNUSABLE_IDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "id is null": lambda issue: {**issue, "id": None},
    "id is text": lambda issue: {**issue, "id": "abc"},
    "id is a boolean": lambda issue: {**issue, "id": True},
    "id is zero": lambda issue: {**issue, "id": 0},
    "id is an object": lambda issue: {**issue, "id": {"value": 802}},
    "no id at all": lambda issue: {k: v for k, v in issue.items() if k != "id"},
}


@pytest.mark.parametrize("shape", list(UNUSABLE_IDS))
async def test_a_ticket_without_a_usable_id_is_logged_and_skipped(
    database_url: str,
    engine: Engine,
    vendors: Vendors,
    caplog: pytest.LogCaptureFixture,
    shape: str,
) -> None:
    now = utcnow()
    _completed(vendors, 801, now - timedelta(hours=1))
    _completed(vendors, 802, now - timedelta(hours=1))
    vendors.okdesk.issues[802] = UNUSABLE_IDS[shape](vendors.okdesk.issues[802])
    _completed(vendors, 803, now - timedelta(hours=1))
    settings = make_settings(database_url, reconcile_interval="1h")

    with caplog.at_level(logging.WARNING, logger="bridge.okdesk"):
        assert await _reconcile_once(engine, settings, vendors.transport, now) == 2

    assert _surveyed(engine) == [801, 803]
    assert _watermark(engine) == now.isoformat()
    skipped = [r.getMessage() for r in caplog.records if "list_item_skipped" in r.getMessage()]
    assert skipped == ["okdesk.list_item_skipped page=1 item=2 reason=no usable id"]
