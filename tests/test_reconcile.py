"""Missed webhooks: closures Okdesk told nobody about are found through the API."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine

from bridge.okdesk import OkdeskClient
from bridge.reconcile import reconcile
from storage.tables import SurveyState, utcnow
from tests.conftest import (
    OKDESK_BASE,
    OKDESK_TOKEN,
    Vendors,
    closed_webhook,
    eventually,
    make_settings,
    rest_issue,
    running_app,
    surveys,
)

pytestmark = pytest.mark.anyio


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
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        okdesk = OkdeskClient(http, OKDESK_BASE, OKDESK_TOKEN)
        assert await reconcile(engine, settings, okdesk, now) == 1
        assert await reconcile(engine, settings, okdesk, now + timedelta(minutes=5)) is None
        assert await reconcile(engine, settings, okdesk, now + timedelta(hours=2)) == 0
        off = make_settings(database_url)
        assert await reconcile(engine, off, okdesk, now + timedelta(hours=5)) is None
    assert [s.issue_id for s in surveys(engine)] == [601]


async def test_okdesk_down_during_reconciliation_keeps_the_watermark(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    from bot.errors import TransientError

    _closed_today(vendors, 701)
    vendors.okdesk.fail("list", 503)
    settings = make_settings(database_url, reconcile_interval="1m")
    now = utcnow()
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        okdesk = OkdeskClient(http, OKDESK_BASE, OKDESK_TOKEN)
        with pytest.raises(TransientError):
            await reconcile(engine, settings, okdesk, now)
        assert await reconcile(engine, settings, okdesk, now + timedelta(minutes=2)) == 1
    assert [s.issue_id for s in surveys(engine)] == [701]
