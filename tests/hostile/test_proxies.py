"""Forwarded headers are believed only from TRUSTED_PROXIES (issue 23, point 8).

Before: uvicorn believed `X-Forwarded-For` from 127.0.0.1, so behind any same-host proxy each
request could name a client of its own: the per-sender webhook limit was gone (900 of 900
accepted instead of 613) and the access line's client was whatever the header said.
"""

from __future__ import annotations

import logging

import pytest

from harness.app import running_app
from harness.constants import ISSUE_ID
from harness.payloads import closed_webhook
from harness.vendors import make_settings, seeded_vendors

pytestmark = pytest.mark.anyio
LIMIT = 3


async def _statuses(database_url: str, peer: str, **settings: object) -> list[int]:
    """Closure webhooks from `peer`, each naming another client in X-Forwarded-For."""
    values = make_settings(
        database_url, worker_enabled=False, webhook_surveys_per_minute=LIMIT, **settings
    )
    issues = range(ISSUE_ID, ISSUE_ID + LIMIT + 2)
    async with running_app(values, seeded_vendors(), peer=peer, as_served=True) as running:
        answers = [
            await running.client.post(
                "/api/v1/okdesk/webhook",
                params={"token": values.okdesk_webhook_token.get_secret_value()},
                json=closed_webhook(issue),
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
            for n, issue in enumerate(issues)
        ]
    return [answer.status_code for answer in answers]


async def test_a_same_host_proxy_cannot_lift_the_per_sender_limit(database_url: str) -> None:
    statuses = await _statuses(database_url, "127.0.0.1")
    assert statuses == [200] * LIMIT + [429, 429]


async def test_a_trusted_proxy_speaks_for_its_clients(database_url: str) -> None:
    statuses = await _statuses(database_url, "10.0.0.7", trusted_proxies="10.0.0.0/24")
    assert statuses == [200] * (LIMIT + 2)


async def test_the_access_line_names_the_address_that_connected(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    values = make_settings(database_url, worker_enabled=False)
    caplog.set_level(logging.INFO, "bridge.access")
    async with running_app(values, seeded_vendors(), peer="127.0.0.1", as_served=True) as app:
        await app.client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
    lines = [r.getMessage() for r in caplog.records if "http.request" in r.getMessage()]
    assert lines and all("client=127.0.0.1 " in line for line in lines), lines


def test_trusted_proxies_must_be_addresses_or_networks(database_url: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)trusted_proxies"):
        make_settings(database_url, trusted_proxies="10.0.0.0/24, proxy.example")
