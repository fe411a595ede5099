"""What the outage tests read back: the invitation jobs, the fakes' requests, and the wait for
an invitation. While a vendor is down the work waits in the queue with its schedule in the
database (attempts, last_error, available_at)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp

from harness.app import Running
from harness.constants import ISSUE_ID
from harness.payloads import closed_webhook
from harness.vendors import Vendors
from harness.waiting import eventually, wait_for
from storage.tables import Job, JobKind, SurveyState
from tests.databases import jobs, surveys

CONTACTS = "/api/v1/contacts/"
RATES = f"/api/v1/issues/{ISSUE_ID}/rates"


@contextmanager
def served(app: ASGIApp) -> Iterator[int]:
    """Serve an ASGI app on 127.0.0.1 from a thread; yields its port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, within=10)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)


def invite_jobs(engine: Engine) -> list[Job]:
    """The invitation jobs, oldest first."""
    return [job for job in jobs(engine) if job.kind == JobKind.INVITE]


def survey_state(engine: Engine) -> SurveyState | None:
    """The state of the newest survey, if any."""
    found = surveys(engine)
    return SurveyState(found[-1].state) if found else None


def okdesk_requests(vendors: Vendors, method: str, path: str) -> int:
    """How many `method path` requests reached the fake Okdesk."""
    return sum(1 for m, p in vendors.okdesk.requests if (m, p) == (method, path))


async def invited(app: Running, engine: Engine) -> str:
    """Close the ticket, wait for the invitation; the survey's token."""
    assert (await app.webhook(closed_webhook())).json() == {"result": "accepted"}
    await eventually(lambda: survey_state(engine) == SurveyState.AWAITING)
    return surveys(engine)[-1].token
