"""The v2 webhook route answers deeply nested JSON with 400, not 500 (issue 23, point 11)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from harness.app import running_app
from harness.constants import EVENTS_TOKEN
from harness.v2 import v2_settings, v2_vendors
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio
MODE = {"bitrix_event_mode": "webhook", "public_url": "https://rating.acme.example/"}


async def test_deeply_nested_json_is_400_and_nothing_is_stored(
    database_url: str, engine: Engine
) -> None:
    deep = b'{"event": "ONIMBOTV2MESSAGEADD", "data": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    assert len(deep) <= 64 * 1024
    vendors = await v2_vendors(database_url, **MODE)
    async with running_app(v2_settings(database_url, **MODE), vendors) as app:
        answer = await app.client.post(
            "/api/v1/bitrix/v2/events",
            params={"token": EVENTS_TOKEN},
            content=deep,
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 400
    assert "nested" in answer.json()["detail"]
    assert surveys(engine) == [] and jobs(engine) == []
