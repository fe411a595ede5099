"""Each imbot.v2 portal's poll lag is its own: an added portal on v2 whose poller stalled makes
/readyz 200 `degraded` naming it (as its other trouble does), the `default` portal's stall
still makes it 503 (an added portal's fresh polls never hide it), and /metrics shows each
fetching portal's lag under its name."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.portals.ids import scoped
from bridge.config.settings import Settings
from bridge.outside.portals import ensure_default
from bridge.web.gauges import StoredGauges
from bridge.web.health import readiness
from harness.v2 import BOT_TOKEN
from storage import polling, portals
from storage.db import transaction
from storage.tables import utcnow
from tests.portals.rows import keyed_settings, store_portal

pytestmark = pytest.mark.anyio

BOT = 567
STALE = timedelta(seconds=300)  # late: past max(60 s, 10 × BITRIX_POLL_INTERVAL)
ON_V2 = {"bitrix_api": "v2", "bitrix_bot_token": BOT_TOKEN, "public_url": ""}


def _answered(engine: Engine, portal: int, at: datetime) -> None:
    """The portal's bot's Event.get last answered at `at`."""
    bot = scoped(portal, BOT)
    with transaction(engine) as session:
        polling.take_lease(session, bot_id=bot, holder="h", now=at, lease=timedelta(seconds=1))
        polling.save_offset(session, bot_id=bot, holder="h", offset=None, now=at)


def _settings(database_url: str, **overrides: Any) -> Settings:
    # No worker in these tests: its check is off, so only the portals decide.
    return keyed_settings(database_url, worker_enabled=False, **overrides)


async def _ready(engine: Engine, settings: Settings) -> tuple[int, dict[str, Any]]:
    response = await readiness(engine, settings, None)
    return response.status_code, json.loads(bytes(response.body))


def _portals(engine: Engine, settings: Settings, now: datetime) -> None:
    """`default` (the settings' API), `acme` on v1 and `beta` on v2."""
    ensure_default(engine, settings, now)
    store_portal(engine, settings, 1, "acme", now)
    store_portal(engine, settings, 2, "beta", now, api="v2")


async def test_an_added_v2_portals_stalled_poller_degrades_naming_it(
    database_url: str, engine: Engine
) -> None:
    settings, now = _settings(database_url), utcnow()
    _portals(engine, settings, now - timedelta(hours=1))
    _answered(engine, 2, now - STALE)
    code, body = await _ready(engine, settings)
    _answered(engine, 2, utcnow())
    after_code, after = await _ready(engine, settings)
    assert code == 200 and body["status"] == "degraded" and body["reasons"] == []
    (line,) = body["degraded"]
    assert line.startswith("portal beta: its events not fetched for 30"), line
    assert set(body["bitrix_poll_lags"]) == {"beta"} and body["bitrix_poll_lags"]["beta"] >= 300
    assert "events" not in body["checks"]  # the settings' portal is on v1
    assert after_code == 200 and after["status"] == "ready" and after["degraded"] == []
    assert after["bitrix_poll_lags"]["beta"] < 60


async def test_an_added_v2_portal_never_polled_is_degraded_once_its_grace_is_over(
    database_url: str, engine: Engine
) -> None:
    settings, now = _settings(database_url), utcnow()
    _portals(engine, settings, now)
    _, just_added = await _ready(engine, settings)
    with transaction(engine) as session:
        row = portals.portal_named(session, name="beta")
        assert row is not None
        portals.save_portal(session, row, now=now - timedelta(minutes=10))
    _, later = await _ready(engine, settings)
    assert just_added["status"] == "ready" and just_added["bitrix_poll_lags"] == {"beta": None}
    assert later["status"] == "degraded"
    (line,) = later["degraded"]
    assert line.startswith("portal beta: its events not fetched yet (60"), line


async def test_defaults_stall_stays_not_ready_whatever_an_added_portal_polls(
    database_url: str, engine: Engine
) -> None:
    settings, now = _settings(database_url, **ON_V2), utcnow()
    _portals(engine, settings, now - timedelta(hours=1))
    _answered(engine, 0, now - STALE)
    _answered(engine, 2, now)  # beta's poller is fine
    code, body = await _ready(engine, settings)
    assert code == 503 and body["status"] == "not_ready"
    assert body["checks"]["events"].startswith("not fetched for 30"), body["checks"]
    assert body["bitrix_poll_lag_seconds"] >= 300 and body["degraded"] == []
    assert body["bitrix_poll_lags"]["beta"] < 60


def _lags(engine: Engine, settings: Settings, now: datetime) -> dict[str, float]:
    """The poll-lag samples /metrics serves, by their `portal` label (the only one)."""
    (family,) = [
        f
        for f in StoredGauges(engine, settings, lambda: now).collect()
        if f.name == "okdesk_rating_bitrix_poll_lag_seconds"
    ]
    assert all(list(s.labels) == ["portal"] for s in family.samples)
    return {s.labels["portal"]: s.value for s in family.samples}


def test_metrics_show_each_fetching_portals_poll_lag_by_name(
    database_url: str, engine: Engine
) -> None:
    v1, v2, now = _settings(database_url), _settings(database_url, **ON_V2), utcnow()
    _portals(engine, v1, now - timedelta(hours=1))
    store_portal(engine, v1, 3, "gamma", now, api="v2")  # never polled yet: no sample
    _answered(engine, 0, now - timedelta(seconds=40))
    _answered(engine, 2, now - STALE)
    on_v1, on_v2 = _lags(engine, v1, now), _lags(engine, v2, now)
    assert on_v1 == {"beta": 300.0}
    assert on_v2 == {"default": 40.0, "beta": 300.0}
