"""A worker that lost a rating job's lease while it read the ticket writes nothing (SQLite and
PostgreSQL).

A retry reads the ticket before it writes. A worker frozen while that read was on its way wakes
past its lease; another worker has claimed the job and rated the ticket meanwhile, and the
answer it wakes to may be from before. It asks the database whether the job is still its own
before it writes: it is not, so it posts nothing and records nothing (the chaos test
`test_frozen_worker_past_its_lease_changes_nothing` runs the same with real processes).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from bridge.outside.vendors import open_vendors
from bridge.worker.loop import Worker
from harness.vendors import Vendors, make_settings
from storage.db import transaction
from storage.tables import Job, JobKind, JobState
from tests.databases import jobs, surveys
from tests.worker.test_races import _awaiting_survey, _click

pytestmark = pytest.mark.anyio

ISSUE = 3101


class TakenOverWhileReading(httpx.AsyncBaseTransport):
    """Okdesk's transport; while the first read of the ticket is on its way, `meanwhile` runs
    (another worker claims the job)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, meanwhile: Callable[[], None]) -> None:
        self._inner = inner
        self._meanwhile: Callable[[], None] | None = meanwhile

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and f"/issues/{ISSUE}" in request.url.path and self._meanwhile:
            self._meanwhile()
            self._meanwhile = None
        return await self._inner.handle_async_request(request)


def _rating_job_tried_once(engine: Engine) -> None:
    """The rating job's first try failed: the next one reads the ticket before writing."""
    with transaction(engine) as session:
        session.execute(update(Job).where(col(Job.kind) == JobKind.SEND_RATING).values(attempts=1))


def _claimed_by_another(engine: Engine) -> Callable[[], None]:
    def claim() -> None:
        with transaction(engine) as session:
            session.execute(
                update(Job)
                .where(col(Job.kind) == JobKind.SEND_RATING)
                .values(lease_token="another-workers-lease")
            )

    return claim


@pytest.mark.parametrize("held", [False, True], ids=["taken_over", "still_held"])
async def test_a_retry_writes_only_while_the_job_is_still_its_own(
    engine: Engine, database_url: str, vendors: Vendors, held: bool
) -> None:
    settings = make_settings(database_url)
    vendors.okdesk.issues[ISSUE] = dict(vendors.okdesk.issues[314599], id=ISSUE)
    _click(engine, settings, _awaiting_survey(engine, settings, ISSUE, due=False), 4)
    _rating_job_tried_once(engine)
    transport: httpx.AsyncBaseTransport = vendors.transport
    if not held:
        transport = TakenOverWhileReading(transport, _claimed_by_another(engine))
    async with open_vendors(settings, engine, transport=transport) as clients:
        await Worker(engine, settings, clients).drain()

    (job,) = [j for j in jobs(engine) if j.kind == JobKind.SEND_RATING]
    (survey,) = surveys(engine)
    if held:
        assert [issue for issue, _ in vendors.okdesk.rate_posts] == [ISSUE]
        assert job.state == JobState.DONE and survey.rating_sent_at is not None
        return
    # Nothing posted, nothing recorded: the job is the other worker's, as it left it.
    assert vendors.okdesk.rate_posts == []
    assert job.state == JobState.PENDING and job.lease_token == "another-workers-lease"
    assert survey.rating_sent_at is None
