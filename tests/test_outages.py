"""Vendor outages: Okdesk or Bitrix24 refusing, resetting, hanging, slow or answering errors.

While a vendor is down the webhook keeps accepting closures and the health check stays green;
the work waits in the queue with its schedule in the database (attempts, last_error,
available_at) and completes once the vendor is back: every survey invited once, every rating
posted once. A request the vendor calls wrong is not repeated; a redirect is not followed.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.engine import Engine
from starlette.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.client import BitrixClient
from bot.register import register
from bridge.admin import retry_failed
from bridge.settings import Settings
from storage.tables import Job, JobKind, JobState, SurveyState, utcnow
from tests.harness.app import Running, running_app
from tests.harness.clock import ManualClock
from tests.harness.constants import CLIENT_ID, ISSUE_ID, WEBHOOK_PATH
from tests.harness.databases import jobs, surveys
from tests.harness.payloads import click_body, closed_webhook
from tests.harness.processes import Fakes, Service, fakes_process, free_port, service_env
from tests.harness.proxy import Mode, Proxy
from tests.harness.senders import Senders
from tests.harness.vendors import Vendors, make_settings
from tests.harness.waiting import eventually, wait_for

CONTACTS = "/api/v1/contacts/"
RATES = f"/api/v1/issues/{ISSUE_ID}/rates"


# --- the proxy itself -------------------------------------------------------------------------


@contextmanager
def _served(app: ASGIApp) -> Iterator[int]:
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


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"hello": "world"})(scope, receive, send)


def _through(proxy: Proxy, timeout: float) -> str:
    try:
        return httpx.get(proxy.url, timeout=timeout).text
    except httpx.TransportError as exc:
        return type(exc).__name__


def test_proxy_modes_switch_live_and_refuse_relistens_on_the_same_port() -> None:
    with _served(_hello) as port, Proxy("127.0.0.1", port) as proxy:
        url = proxy.url
        ok = '{"hello":"world"}'
        assert _through(proxy, 2) == ok
        proxy.set_mode("reset")
        assert _through(proxy, 2) in ("ReadError", "RemoteProtocolError", "ConnectError")
        proxy.set_mode("blackhole")
        assert _through(proxy, 0.2) == "ReadTimeout"
        proxy.set_mode("refuse")
        assert _through(proxy, 2) == "ConnectError"
        proxy.set_mode("delay", delay=0.3)
        assert _through(proxy, 0.1) == "ReadTimeout"
        assert _through(proxy, 5) == ok
        proxy.set_mode("pass")
        assert _through(proxy, 2) == ok
        assert proxy.url == url


# --- in process: the vendors' answers ---------------------------------------------------------


def _invites(engine: Engine) -> list[Job]:
    return [job for job in jobs(engine) if job.kind == JobKind.INVITE]


def _state(engine: Engine) -> SurveyState | None:
    found = surveys(engine)
    return SurveyState(found[-1].state) if found else None


def _requests(vendors: Vendors, method: str, path: str) -> int:
    return sum(1 for m, p in vendors.okdesk.requests if (m, p) == (method, path))


async def _invited(app: Running, engine: Engine) -> str:
    """Close the ticket, wait for the invitation; the survey's token."""
    assert (await app.webhook(closed_webhook())).json() == {"result": "accepted"}
    await eventually(lambda: _state(engine) == SurveyState.AWAITING)
    return surveys(engine)[-1].token


TRANSIENT = [
    pytest.param("bitrix", "imbot.message.add", 500, id="bitrix-500"),
    pytest.param("bitrix", "imbot.message.add", 502, id="bitrix-502"),
    pytest.param("bitrix", "imbot.message.add", 503, id="bitrix-503-QUERY_LIMIT_EXCEEDED"),
    pytest.param("bitrix", "imbot.message.add", 429, id="bitrix-429"),
    pytest.param("okdesk", "contact", 500, id="okdesk-500"),
    pytest.param("okdesk", "contact", 502, id="okdesk-502"),
    pytest.param("okdesk", "contact", 503, id="okdesk-503"),
    pytest.param("okdesk", "contact", 429, id="okdesk-429"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("vendor", "call", "status"), TRANSIENT)
async def test_transient_answers_are_retried_and_the_invitation_sent_once(
    database_url: str, engine: Engine, vendors: Vendors, vendor: str, call: str, status: int
) -> None:
    if vendor == "bitrix":
        vendors.bitrix.fail(call, status, status)
    else:
        vendors.okdesk.fail(call, status, status)
    async with running_app(make_settings(database_url), vendors) as app:
        await _invited(app, engine)
    (invite,) = _invites(engine)
    assert (invite.state, invite.attempts) == (JobState.DONE, 3)
    tries = (
        len(vendors.calls("imbot.message.add"))
        if vendor == "bitrix"
        else _requests(vendors, "GET", CONTACTS)
    )
    assert tries == 3
    assert len(vendors.bitrix.messages) == 1


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("retry_after", "cap", "wait"),
    [
        pytest.param("3", "10s", 3.0, id="never-sooner-than-retry-after"),
        pytest.param("30", "5s", 5.0, id="at-most-the-cap"),
        pytest.param(
            format_datetime(utcnow() + timedelta(hours=1), usegmt=True),
            "10s",
            10.0,
            id="http-date",
        ),
    ],
)
async def test_retry_after_sets_the_next_try_recorded_in_the_database(
    database_url: str, engine: Engine, vendors: Vendors, retry_after: str, cap: str, wait: float
) -> None:
    vendors.okdesk.fail("contact", (429, {"Retry-After": retry_after}))
    settings = make_settings(database_url, retry_base="0.01s", retry_cap=cap)
    clock = ManualClock()
    failed_at = clock.now
    async with running_app(settings, vendors, clock=clock) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _invites(engine)[0].last_error is not None)
        (invite,) = _invites(engine)
        assert invite.last_error == "Okdesk contact lookup: HTTP 429"
        assert invite.attempts == 1 and invite.state == JobState.PENDING
        delay = invite.available_at - failed_at
        assert timedelta(seconds=wait) <= delay <= timedelta(seconds=wait + 0.01)
        # Not due yet: the worker keeps polling but does not ask again.
        await asyncio.sleep(0.3)
        assert _requests(vendors, "GET", CONTACTS) == 1
        assert _state(engine) == SurveyState.INVITING
        clock.now = invite.available_at
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
    assert _requests(vendors, "GET", CONTACTS) == 2
    assert len(vendors.bitrix.messages) == 1


REJECTED = [
    *(pytest.param("bitrix", s, id=f"bitrix-imbot.message.add-{s}") for s in (400, 401, 403)),
    *(pytest.param("bitrix", s, id=f"bitrix-imbot.message.add-{s}") for s in (404, 422)),
    *(pytest.param("okdesk-contact", s, id=f"okdesk-contact-{s}") for s in (400, 401, 403, 422)),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("vendor", "status"), REJECTED)
async def test_wrong_request_on_invitation_is_not_retried_and_fails_the_survey(
    database_url: str, engine: Engine, vendors: Vendors, vendor: str, status: int
) -> None:
    if vendor == "bitrix":
        vendors.bitrix.fail("imbot.message.add", status)
        where = f"Bitrix24 imbot.message.add: HTTP {status}"
    else:
        vendors.okdesk.fail("contact", status)
        where = f"Okdesk contact lookup: HTTP {status}"
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine) == SurveyState.FAILED)
        await asyncio.sleep(0.2)
    (invite,) = _invites(engine)
    assert (invite.state, invite.attempts) == (JobState.FAILED, 1)
    survey = surveys(engine)[0]
    assert survey.reason is not None and survey.reason.startswith(where)
    assert invite.last_error == survey.reason
    if vendor == "bitrix":
        assert len(vendors.calls("imbot.message.add")) == 1
    else:
        assert _requests(vendors, "GET", CONTACTS) == 1
        assert vendors.bitrix.calls == []
    assert vendors.bitrix.messages == {}


@pytest.mark.anyio
@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_wrong_request_on_rating_is_not_retried_and_fails_the_survey(
    database_url: str, engine: Engine, vendors: Vendors, status: int
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        token = await _invited(app, engine)
        vendors.okdesk.fail("rate", status)
        assert (await app.event(click_body(f"{token}:4"))).status_code == 200
        await eventually(lambda: _state(engine) == SurveyState.FAILED)
        await asyncio.sleep(0.2)
    (rating,) = [job for job in jobs(engine) if job.kind == JobKind.SEND_RATING]
    assert (rating.state, rating.attempts) == (JobState.FAILED, 1)
    reason = surveys(engine)[0].reason or ""
    assert reason.startswith(f"Okdesk rating: HTTP {status}")
    assert _requests(vendors, "POST", RATES) == 1
    assert vendors.okdesk.rate_posts == []


@pytest.mark.anyio
async def test_contact_gone_is_undeliverable_without_retry(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # A 404 on the contact is an answer ("no such contact"), not a failure (okdesk.md §4).
    vendors.okdesk.fail("contact", 404)
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine) == SurveyState.UNDELIVERABLE)
    assert _requests(vendors, "GET", CONTACTS) == 1
    assert vendors.bitrix.calls == []


@pytest.mark.anyio
async def test_okdesk_timeout_is_retried_then_invited_once(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    # A timeout needs a real socket: httpx's ASGI transport has no timeouts.
    with _served(vendors.okdesk.app) as port:
        direct = httpx.AsyncHTTPTransport()
        vendors.transport.routes["127.0.0.1"] = direct
        settings = make_settings(
            database_url, okdesk_url=f"http://127.0.0.1:{port}", http_timeout="0.2s"
        )
        vendors.okdesk.latency = 0.5
        try:
            async with running_app(settings, vendors) as app:
                await app.webhook(closed_webhook())
                await eventually(lambda: _invites(engine)[0].attempts >= 2, within=15)
                error = _invites(engine)[0].last_error
                assert error == "Okdesk ticket read: timed out (ReadTimeout)"
                assert _state(engine) == SurveyState.INVITING
                vendors.okdesk.latency = 0.0
                await eventually(lambda: _state(engine) == SurveyState.AWAITING)
        finally:
            await direct.aclose()
    (invite,) = _invites(engine)
    assert invite.state == JobState.DONE and invite.attempts >= 2
    assert len(vendors.bitrix.messages) == 1


@dataclass
class SlowOnce:
    """Answers one request on `path` late (after the caller timed out), but still carries it out."""

    app: ASGIApp
    path: str
    seconds: float
    slowed: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or self.slowed:
            return await self.app(scope, receive, send)
        self.slowed += 1
        # The vendor has the whole request before it is slow, so it acts on it all the same.
        received = [await receive()]
        while received[-1].get("more_body"):
            received.append(await receive())
        await asyncio.sleep(self.seconds)

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        await self.app(scope, replay, send)


@asynccontextmanager
async def _over_sockets(
    settings: Settings, vendors: Vendors, clock: ManualClock
) -> AsyncIterator[Running]:
    """The app with one vendor behind a real socket (so that timeouts happen), at `clock`."""
    direct = httpx.AsyncHTTPTransport()
    vendors.transport.routes["127.0.0.1"] = direct
    try:
        async with running_app(settings, vendors, clock=clock) as app:
            yield app
    finally:
        await direct.aclose()


async def _retry_after_the_late_call_landed(
    engine: Engine, kind: JobKind, clock: ManualClock
) -> None:
    """Wait for the timed-out try to be scheduled again, then move the clock to that time."""
    await eventually(lambda: any(j.kind == kind and j.last_error for j in jobs(engine)))
    (job,) = [j for j in jobs(engine) if j.kind == kind]
    assert (job.last_error or "").endswith("timed out (ReadTimeout)")
    clock.now = job.available_at


@pytest.mark.anyio
async def test_rating_that_timed_out_but_took_is_not_posted_again(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    slow = SlowOnce(vendors.okdesk.app, RATES, 0.5)
    clock = ManualClock()
    with _served(slow) as port:
        settings = make_settings(
            database_url, okdesk_url=f"http://127.0.0.1:{port}", http_timeout="0.2s"
        )
        async with _over_sockets(settings, vendors, clock) as app:
            token = await _invited(app, engine)
            await app.event(click_body(f"{token}:5"))
            await eventually(lambda: len(vendors.okdesk.rate_posts) == 1)
            await _retry_after_the_late_call_landed(engine, JobKind.SEND_RATING, clock)
            await eventually(lambda: surveys(engine)[0].rating_sent_at is not None)
    # Read-before-write: the retry saw the rating already there and did not post it again.
    assert _requests(vendors, "POST", RATES) == 1
    assert surveys(engine)[0].okdesk_rate == "good"


@pytest.mark.anyio
@pytest.mark.xfail(
    strict=True,
    reason=(
        "known limit, documented in the README: imbot.message.add has no idempotency key and "
        "v1 cannot list what the bot sent, so an invitation whose answer timed out after "
        "Bitrix24 posted it is posted again on retry"
    ),
)
async def test_invitation_that_timed_out_but_was_posted_is_not_posted_again(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    slow = SlowOnce(vendors.bitrix.app, WEBHOOK_PATH + "imbot.message.add", 0.5)
    clock = ManualClock()
    with _served(slow) as port:
        settings = make_settings(
            database_url,
            bitrix_webhook_url=f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
            http_timeout="0.2s",
        )
        async with _over_sockets(settings, vendors, clock) as app:
            await app.webhook(closed_webhook())
            await eventually(lambda: len(vendors.bitrix.messages) == 1)
            await _retry_after_the_late_call_landed(engine, JobKind.INVITE, clock)
            await eventually(lambda: _state(engine) == SurveyState.AWAITING)
    assert len(vendors.calls("imbot.message.add")) == 2
    assert len(vendors.bitrix.messages) == 1


GAVE_UP = re.compile(r"gave up after (\d+) tries: (.*)")


@pytest.mark.anyio
async def test_give_up_time_counts_from_the_first_failure_not_from_intake(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    clock = ManualClock()
    async with running_app(
        make_settings(database_url, worker_enabled=False), vendors, clock=clock
    ) as app:
        await app.webhook(closed_webhook())
    clock.now += timedelta(seconds=2)
    vendors.bitrix.fail("imbot.message.add", 503)
    settings = make_settings(database_url, retry_give_up_after="1s")
    async with running_app(settings, vendors, clock=clock):
        await eventually(lambda: _invites(engine)[0].last_error is not None)
        (invite,) = _invites(engine)
        assert invite.state == JobState.PENDING, surveys(engine)[0].reason
        clock.now = invite.available_at
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
    assert len(vendors.bitrix.messages) == 1


@pytest.mark.anyio
async def test_invitation_given_up_then_retried_by_the_administrator_is_sent_once(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.bitrix.fail("imbot.message.add", *([503] * 1000))
    settings = make_settings(database_url, retry_give_up_after="1s")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine) == SurveyState.FAILED)
    found = GAVE_UP.fullmatch(surveys(engine)[0].reason or "")
    assert found is not None, surveys(engine)[0].reason
    assert found[2] == "Bitrix24 imbot.message.add: HTTP 503 QUERY_LIMIT_EXCEEDED"
    (invite,) = _invites(engine)
    tries = int(found[1])
    assert invite.state == JobState.FAILED and invite.attempts == tries > 1
    assert len(vendors.calls("imbot.message.add")) == tries
    assert vendors.bitrix.messages == {}

    vendors.bitrix.fail_next.clear()
    assert retry_failed(engine, settings, utcnow()) == (1, [])
    async with running_app(settings, vendors):
        await eventually(lambda: _state(engine) == SurveyState.AWAITING)
        await asyncio.sleep(0.2)
    assert len(vendors.bitrix.messages) == 1
    assert len(vendors.calls("imbot.message.add")) == tries + 1
    assert _invites(engine)[0].state == JobState.DONE


@pytest.mark.anyio
async def test_rating_given_up_then_retried_by_the_administrator_is_posted_once(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, retry_give_up_after="1s")
    async with running_app(settings, vendors) as app:
        token = await _invited(app, engine)
        vendors.okdesk.fail("rate", *([503] * 1000))
        await app.event(click_body(f"{token}:2"))
        await eventually(lambda: _state(engine) == SurveyState.FAILED)
    found = GAVE_UP.fullmatch(surveys(engine)[0].reason or "")
    assert found is not None and found[2] == "Okdesk rating: HTTP 503"
    assert vendors.okdesk.rate_posts == []

    vendors.okdesk.fail_next.clear()
    assert retry_failed(engine, settings, utcnow()) == (1, [])
    async with running_app(settings, vendors):
        await eventually(lambda: surveys(engine)[0].rating_sent_at is not None)
        await asyncio.sleep(0.2)
    survey = surveys(engine)[0]
    assert survey.state == SurveyState.RATED and survey.okdesk_rate == "bad"
    assert [body["rate"] for _, body in vendors.okdesk.rate_posts] == ["bad"]
    assert _requests(vendors, "POST", RATES) == int(found[1]) + 1


# --- redirects --------------------------------------------------------------------------------


@dataclass
class Redirecting:
    """Answers 302 to another host on one path; passes everything else to the fake."""

    app: ASGIApp
    path: str
    location: str
    redirected: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            self.redirected += 1
            await RedirectResponse(self.location, status_code=302)(scope, receive, send)
        else:
            await self.app(scope, receive, send)


@dataclass
class Elsewhere:
    """The redirect's target: it must never be asked anything."""

    requests: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.requests += 1
        await JSONResponse({"result": 1, "id": 11771, "email": "x@evil.example"})(
            scope, receive, send
        )


@pytest.mark.anyio
@pytest.mark.parametrize("vendor", ["bitrix", "okdesk"])
async def test_redirect_to_another_host_is_a_failure_and_not_followed(
    database_url: str, engine: Engine, vendors: Vendors, vendor: str
) -> None:
    elsewhere = Elsewhere()
    if vendor == "bitrix":
        host, fake_app, path = "acme.bitrix24.ru", vendors.bitrix.app, "imbot.message.add"
        redirecting = Redirecting(fake_app, WEBHOOK_PATH + path, "https://evil.example/rest/x")
        where = "Bitrix24 imbot.message.add: HTTP 302"
    else:
        host, fake_app = "acme.okdesk.ru", vendors.okdesk.app
        redirecting = Redirecting(fake_app, CONTACTS, "https://evil.example/api/v1/contacts/")
        where = "Okdesk contact lookup: HTTP 302"
    vendors.transport.routes[host] = httpx.ASGITransport(app=redirecting)
    vendors.transport.routes["evil.example"] = httpx.ASGITransport(app=elsewhere)
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: _state(engine) == SurveyState.FAILED)
        await asyncio.sleep(0.2)
    assert (surveys(engine)[0].reason or "").startswith(where)
    assert redirecting.redirected == 1
    assert elsewhere.requests == 0
    assert vendors.transport.unexpected == []
    assert vendors.bitrix.messages == {}


# --- real processes behind the proxy ----------------------------------------------------------


@dataclass
class Stack:
    """Fakes process, service process, and a proxy in front of each vendor."""

    fakes: Fakes
    service: Service
    okdesk: Proxy
    bitrix: Proxy
    engine: Engine

    def close(self, issue_ids: list[int]) -> None:
        """Okdesk closes these tickets at once; every webhook is accepted."""

        async def post_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=self.service.url, timeout=30) as client:
                send = Senders(client.post)
                return await asyncio.gather(*(send.webhook(closed_webhook(i)) for i in issue_ids))

        for response in asyncio.run(post_all()):
            assert response.status_code == 200
            assert response.json() == {"result": "accepted"}

    def click(self, issue_ids: list[int], score: int = 4) -> None:
        """The requester clicks a rating in each of these tickets' invitations."""
        tokens = {s.issue_id: s.token for s in surveys(self.engine)}
        for issue_id in issue_ids:
            body = click_body(f"{tokens[issue_id]}:{score}")
            token = self.service.env["BITRIX_EVENTS_TOKEN"]
            response = self.service.senders().event(body, token=token)
            assert response.status_code == 200

    def healthy(self) -> bool:
        """`GET /healthz` answers 200 with a reachable database."""
        response = httpx.get(self.service.url + "/healthz", timeout=5)
        return response.status_code == 200 and response.json()["database"] == "ok"

    def jobs_of(self, issue_ids: list[int], kind: JobKind) -> list[Job]:
        """The jobs of these tickets' surveys."""
        ids = {s.id for s in surveys(self.engine) if s.issue_id in issue_ids}
        return [j for j in jobs(self.engine) if j.survey_id in ids and j.kind == kind]

    def states(self, issue_ids: list[int]) -> set[SurveyState]:
        """The states these tickets' surveys are in."""
        wanted = set(issue_ids)
        return {SurveyState(s.state) for s in surveys(self.engine) if s.issue_id in wanted}

    def settled(self) -> bool:
        """Nothing is queued or running."""
        return all(job.state != JobState.PENDING for job in jobs(self.engine))

    def _messages(self) -> list[tuple[int, dict[str, Any]]]:
        found = []
        for message in self.fakes.state("bitrix")["messages"].values():
            if number := re.search(r"№(\d+)", message["MESSAGE"]):
                found.append((int(number[1]), message))
        return found

    def invitations(self) -> dict[int, int]:
        """How many bot messages name each ticket."""
        counts: dict[int, int] = {}
        for issue_id, _ in self._messages():
            counts[issue_id] = counts.get(issue_id, 0) + 1
        return counts

    def with_buttons(self) -> set[int]:
        """Tickets whose invitation still shows the rating buttons."""
        return {issue_id for issue_id, message in self._messages() if message["KEYBOARD"]}

    def ratings(self) -> dict[int, list[str]]:
        """What Okdesk received for each ticket."""
        posts: dict[int, list[str]] = {}
        for issue_id, body in self.fakes.state("okdesk")["rate_posts"]:
            posts.setdefault(int(issue_id), []).append(body["rate"])
        return posts


async def _register(webhook_url: str, database_url: str) -> int:
    async with httpx.AsyncClient() as http:
        bot = await register(
            BitrixClient(http, webhook_url, CLIENT_ID), make_settings(database_url)
        )
    return bot.bot_id


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@contextmanager
def _stack(
    database_url: str, engine: Engine, tmp_path: Path, issue_ids: list[int]
) -> Iterator[Stack]:
    with fakes_process() as fakes:
        fakes.seed_tickets(issue_ids)
        bot_id = asyncio.run(_register(fakes.bitrix_webhook, database_url))
        with (
            Proxy("127.0.0.1", _port(fakes.okdesk)) as okdesk,
            Proxy("127.0.0.1", _port(fakes.bitrix)) as bitrix,
        ):
            env = service_env(
                fakes,
                database_url,
                free_port(),
                OKDESK_URL=okdesk.url,
                BITRIX_WEBHOOK_URL=bitrix.url + WEBHOOK_PATH,
                BITRIX_BOT_ID=str(bot_id),
                HTTP_TIMEOUT="1s",
                RETRY_BASE="0.2s",
                RETRY_CAP="1s",
                RECONCILE_INTERVAL="off",
                BITRIX_BURST="500",
                BITRIX_REQUESTS_PER_SECOND="100",
            )
            service = Service(env, tmp_path / "service.log")
            service.start()
            try:
                yield Stack(fakes, service, okdesk, bitrix, engine)
            finally:
                service.stop()


OUTAGES: list[tuple[Mode, str]] = [
    ("refuse", r"unreachable \(ConnectError\)"),
    ("reset", r"unreachable \(\w+\)"),
    ("blackhole", r"timed out \(\w*Timeout\)"),
]


@dataclass(frozen=True)
class Outage:
    """Which vendor is down, and which calls are then seen failing."""

    vendor: str
    invite_call: str
    answered_kind: JobKind
    answered_call: str


BITRIX_DOWN = Outage(
    "bitrix",
    r"Bitrix24 (user\.get|batch)",
    JobKind.CLOSE_INVITATION,
    r"Bitrix24 imbot\.message\.update",
)
OKDESK_DOWN = Outage("okdesk", "Okdesk ticket read", JobKind.SEND_RATING, "Okdesk ticket read")


def _retried(stack: Stack, issue_ids: list[int], kind: JobKind) -> bool:
    found = stack.jobs_of(issue_ids, kind)
    return len(found) == len(issue_ids) and all(j.attempts > 1 and j.last_error for j in found)


def _down_then_back(
    stack: Stack, outage: Outage, mode: Mode, error: str, batch: list[int], answered: list[int]
) -> None:
    """While the vendor is down, tickets close and earlier invitations are answered."""
    proxy = stack.bitrix if outage.vendor == "bitrix" else stack.okdesk
    proxy.set_mode(mode)
    stack.close(batch)
    stack.click(answered)
    wait_for(lambda: _retried(stack, batch, JobKind.INVITE), within=20)
    wait_for(lambda: _retried(stack, answered, outage.answered_kind), within=20)
    for job in stack.jobs_of(batch, JobKind.INVITE):
        assert re.fullmatch(f"{outage.invite_call}: {error}", job.last_error or ""), job.last_error
    for job in stack.jobs_of(answered, outage.answered_kind):
        assert re.fullmatch(f"{outage.answered_call}: {error}", job.last_error or ""), job
    # The other vendor's half of the work goes on meanwhile.
    if outage.vendor == "bitrix":
        wait_for(lambda: set(answered) <= set(stack.ratings()))
    else:
        wait_for(lambda: not set(answered) & stack.with_buttons())
    assert stack.healthy()
    assert stack.states(batch) == {SurveyState.INVITING}
    assert not set(batch) & set(stack.invitations())
    proxy.set_mode("pass")
    wait_for(lambda: stack.states(batch) == {SurveyState.AWAITING} and stack.settled(), 30)


def _outages_lose_and_repeat_nothing(stack: Stack, outage: Outage) -> None:
    tickets = iter(ALL_TICKETS)
    answered = [next(tickets) for _ in range(3)]
    stack.close(answered)
    wait_for(lambda: stack.states(answered) == {SurveyState.AWAITING} and stack.settled())
    clicked: list[int] = []
    for mode, error in OUTAGES:
        batch = [next(tickets) for _ in range(3)]
        _down_then_back(stack, outage, mode, error, batch, answered)
        clicked += answered
        answered = batch

    # A slow vendor, and a hundred tickets closed at once.
    proxy = stack.bitrix if outage.vendor == "bitrix" else stack.okdesk
    proxy.set_mode("delay", delay=0.1)
    crowd = [next(tickets) for _ in range(100)]
    stack.close(crowd)
    stack.click(answered)
    clicked += answered
    assert stack.healthy()
    wait_for(lambda: stack.states(crowd) == {SurveyState.AWAITING} and stack.settled(), 60)
    proxy.set_mode("pass")

    everyone = ALL_TICKETS[: ALL_TICKETS.index(crowd[-1]) + 1]
    assert stack.invitations() == dict.fromkeys(everyone, 1)
    assert stack.fakes.state("bitrix")["calls_by_method"]["imbot.message.add"] == len(everyone)
    assert stack.ratings() == {issue_id: ["good"] for issue_id in clicked}
    assert stack.states(clicked) == {SurveyState.RATED}
    assert stack.with_buttons() == set(everyone) - set(clicked)
    assert {job.state for job in jobs(stack.engine)} == {JobState.DONE}


ALL_TICKETS = list(range(7001, 7200))


@pytest.mark.slow
def test_bitrix_outages_delay_invitations_but_lose_or_repeat_none(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with _stack(database_url, engine, tmp_path, ALL_TICKETS) as stack:
        _outages_lose_and_repeat_nothing(stack, BITRIX_DOWN)


@pytest.mark.slow
def test_okdesk_outages_delay_invitations_and_ratings_but_lose_or_repeat_none(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with _stack(database_url, engine, tmp_path, ALL_TICKETS) as stack:
        _outages_lose_and_repeat_nothing(stack, OKDESK_DOWN)
