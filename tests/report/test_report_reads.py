"""The report page reads without SQLite's write lock (issue 23, point 11): a webhook that
comes while the page (or the CSV export, or a /metrics scrape) is reading is stored at once.

Before, every transaction began IMMEDIATE and took this process's writer lock, so a webhook
waited for the whole read: p50 5.5 → 46.9 ms while an administrator reloaded the page. Here
the read is held open on purpose, in another thread, while the webhook comes.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from harness.app import running_app
from harness.payloads import closed_webhook
from harness.vendors import make_settings, seeded_vendors
from storage.db import reading
from storage.tables import Survey
from tests.databases import surveys

pytestmark = pytest.mark.anyio
STALL = 10.0  # seconds: only a webhook waiting for the read takes this long


async def test_a_webhook_is_stored_while_a_report_read_is_in_progress(
    database_url: str, engine: Engine
) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    began, done = threading.Event(), threading.Event()
    counted: list[int] = []

    def report_read() -> None:
        with reading(engine) as session:
            counted.append(session.execute(select(func.count()).select_from(Survey)).scalar_one())
            began.set()
            done.wait(STALL * 2)
            # One snapshot: the webhook stored meanwhile is not seen by this read.
            counted.append(session.execute(select(func.count()).select_from(Survey)).scalar_one())

    async with running_app(settings, seeded_vendors()) as app:
        reader = threading.Thread(target=report_read)
        reader.start()
        try:
            assert await asyncio.to_thread(began.wait, STALL)
            answer = await asyncio.wait_for(app.webhook(closed_webhook()), STALL)
        finally:
            done.set()
            reader.join()
    assert answer.status_code == 200
    assert len(surveys(engine)) == 1
    assert counted == [0, 0]
