"""Shared test harness: a real database (SQLite file and PostgreSQL), fake vendors speaking
their real wire formats, and the app running with its lifespan (and so its worker)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import psycopg
import pytest
from psycopg import sql
from sqlalchemy import make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.client import BitrixClient
from bot.register import register
from bridge.app import create_app
from bridge.logs import install_redaction
from bridge.server import database_threads
from bridge.settings import Settings
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.tables import Job, Survey
from tests.fakes.bitrix import FakeBitrix
from tests.fakes.okdesk import FakeOkdesk

FIXTURES = Path(__file__).parent / "fixtures"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
OKDESK_BASE = "https://acme.okdesk.ru"
BITRIX_BASE = "https://acme.bitrix24.ru"
WEBHOOK_PATH = "/rest/1/hooktoken/"
OKDESK_TOKEN = "okdesk-test-token"
WEBHOOK_TOKEN = "okdesk-webhook-secret-0123456789"
EVENTS_TOKEN = "bitrix-events-secret-0123456789"
CLIENT_ID = "rating-bot-acme"
ISSUE_ID = 314599
CONTACT_ID = 11771
USER_ID = 27
# The acting person's access token in the reply and click fixtures (auth[access_token]).
USER_TOKEN = "c3d4e5f6000018d6000002370000001b0f1f5f4f5c6fc2d4"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fixture_json(name: str) -> Any:
    """A vendor payload from tests/fixtures."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_bytes(name: str) -> bytes:
    """A raw vendor body from tests/fixtures."""
    return (FIXTURES / name).read_bytes().strip()


# --- databases ------------------------------------------------------------------------------

_TABLES = ("job", "survey", "request_budget", "seen_event", "service_status")
_postgres_checked: list[bool] = []
_databases = itertools.count(1)


def _postgres_available() -> bool:
    if not _postgres_checked:
        engine = create_db_engine(POSTGRES_URL, pool_size=1)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            _postgres_checked.append(True)
        except Exception:
            _postgres_checked.append(False)
        finally:
            engine.dispose()
    return _postgres_checked[0]


def require_postgres() -> None:
    """Skip (or, with REQUIRE_POSTGRES, fail) when the PostgreSQL test server is unreachable."""
    if not _postgres_available():
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but unreachable at {POSTGRES_URL}")
        pytest.skip("PostgreSQL is not reachable (set TEST_POSTGRES_URL)")


@contextmanager
def private_postgres(prefix: str = "test") -> Iterator[str]:
    """A migrated PostgreSQL database of this run's own on the test server, dropped afterwards.

    Two runs of the suite on one machine (or a developer's run beside CI) never touch each
    other's tables: each makes and drops databases named after its process.
    """
    require_postgres()
    server = make_url(POSTGRES_URL)
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    database = f"{prefix}_{os.getpid()}_{next(_databases)}"
    name = sql.Identifier(database)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        url = server.set(database=database).render_as_string(hide_password=False)
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@pytest.fixture(scope="session")
def run_postgres_url() -> Iterator[str]:
    """This run's own PostgreSQL database, emptied before each test that uses it."""
    with private_postgres() as url:
        yield url


def _reset_postgres(url: str) -> None:
    engine = create_db_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or this run's PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'rating.db'}"
        upgrade(url)
        return url
    require_postgres()
    shared: str = request.getfixturevalue("run_postgres_url")
    _reset_postgres(shared)
    return shared


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on the test database, for looking at end state."""
    engine = create_db_engine(database_url, pool_size=2)
    yield engine
    engine.dispose()


def surveys(engine: Engine) -> list[Survey]:
    """All surveys, oldest first."""
    with transaction(engine) as session:
        return list(session.exec(select(Survey).order_by(Survey.id)).all())  # type: ignore[arg-type]


def jobs(engine: Engine) -> list[Job]:
    """All jobs, oldest first."""
    with transaction(engine) as session:
        return list(session.exec(select(Job).order_by(Job.id)).all())  # type: ignore[arg-type]


# --- settings and fakes ---------------------------------------------------------------------


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for tests, never read from the environment or a .env file."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "okdesk_url": OKDESK_BASE,
        "okdesk_api_token": OKDESK_TOKEN,
        "okdesk_webhook_token": WEBHOOK_TOKEN,
        "bitrix_webhook_url": BITRIX_BASE + WEBHOOK_PATH,
        "bitrix_client_id": CLIENT_ID,
        "bitrix_events_token": EVENTS_TOKEN,
        "public_url": "https://rating.acme.example/",
        "retry_base": "0.01s",
        "retry_cap": "0.05s",
        "worker_poll_interval": "0.05s",
        "reconcile_interval": "off",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the fake that plays its host; any other host is an error."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport]) -> None:
        self.routes = routes
        self.unexpected: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.routes.get(request.url.host)
        if transport is None:
            self.unexpected.append(request.url.host)
            raise httpx.ConnectError("no such host in tests", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Vendors:
    """The fake Okdesk and Bitrix24, and the transport that reaches them."""

    okdesk: FakeOkdesk
    bitrix: FakeBitrix
    transport: RoutingTransport

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every Bitrix24 call of `method`."""
        return [params for name, params in self.bitrix.calls if name == method]


def seeded_vendors() -> Vendors:
    """Fakes holding the fixtures' ticket, contact and Bitrix24 user."""
    okdesk = FakeOkdesk(api_token=OKDESK_TOKEN)
    okdesk.contacts[CONTACT_ID] = fixture_json("okdesk/contact_11771.json")
    okdesk.issues[ISSUE_ID] = rest_issue(ISSUE_ID)
    bitrix = FakeBitrix(webhook_path=WEBHOOK_PATH)
    bitrix.users = list(fixture_json("bitrix24/user_get_by_email.json")["result"])
    bitrix.user_tokens[USER_TOKEN] = USER_ID
    transport = RoutingTransport(
        {
            "acme.okdesk.ru": httpx.ASGITransport(app=okdesk.app),
            "acme.bitrix24.ru": httpx.ASGITransport(app=bitrix.app),
        }
    )
    return Vendors(okdesk, bitrix, transport)


def rest_issue(issue_id: int, status: str = "closed") -> dict[str, Any]:
    """A ticket as Okdesk's REST API shows it (okdesk.md §5)."""
    return {
        "id": issue_id,
        "title": "Касса не печатает чек",
        "status": {"code": status, "name": "Закрыта"},
        "rate": None,
        "completed_at": "2024-08-24T17:26:19.298+07:00",
        "contact": {"id": CONTACT_ID, "name": "Петров Иван"},
    }


@pytest.fixture
async def vendors(database_url: str) -> Vendors:
    """Seeded fakes, with the bot already registered in the fake portal."""
    fakes = seeded_vendors()
    async with httpx.AsyncClient(transport=fakes.transport) as http:
        client = BitrixClient(http, BITRIX_BASE + WEBHOOK_PATH, CLIENT_ID)
        await register(client, make_settings(database_url))
    fakes.bitrix.calls.clear()
    return fakes


# --- the running app ------------------------------------------------------------------------


@dataclass
class Running:
    """The app with its lifespan running, and a client that talks to it."""

    client: httpx.AsyncClient
    settings: Settings

    async def webhook(
        self, payload: Any, *, token: str | None = WEBHOOK_TOKEN, path: str = "webhook"
    ) -> httpx.Response:
        """POST an Okdesk webhook the way Okdesk does (JSON, secret in the URL)."""
        params = {"token": token} if token is not None else {}
        return await self.client.post(f"/api/v1/okdesk/{path}", params=params, json=payload)

    async def event(self, body: bytes, *, token: str | None = EVENTS_TOKEN) -> httpx.Response:
        """POST a Bitrix24 event the way Bitrix24 does (form-encoded, CLIENT_ID appended)."""
        query = {"token": token, "CLIENT_ID": CLIENT_ID} if token is not None else {}
        return await self.client.post(
            "/api/v1/bitrix/events",
            params=query,
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )


@asynccontextmanager
async def running_app(settings: Settings, fakes: Vendors) -> AsyncIterator[Running]:
    """Run the app (migrations, worker) against the fakes until the block ends."""
    # What `python -m bridge` sets up once per process.
    install_redaction(settings.secrets())
    asyncio.get_running_loop().set_default_executor(database_threads())
    app = create_app(settings, transport=fakes.transport)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rating.test") as client:
            yield Running(client, settings)


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], within: float = 10.0
) -> None:
    """Wait until `check()` holds (the worker runs in the background)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(0.02)


def closed_webhook(issue_id: int = ISSUE_ID, **changes: Any) -> dict[str, Any]:
    """The real closure webhook, with optional changes to the issue."""
    payload: dict[str, Any] = fixture_json("okdesk/webhook_issue_closed.json")
    payload["issue"]["id"] = issue_id
    payload["issue"].update(changes)
    return payload


def event_body(name: str, **fields: str) -> bytes:
    """A fixture event body with some fields replaced (keys as Bitrix24 writes them)."""
    pairs = parse_qsl(fixture_bytes(f"bitrix24/{name}.form").decode(), keep_blank_values=True)
    replaced = [(key, fields.pop(key, value)) for key, value in pairs]
    replaced.extend(fields.items())
    return urlencode(replaced).encode()


def click_body(params: str, user_id: int = USER_ID) -> bytes:
    """A keyboard click on a rating button."""
    return event_body(
        "ONIMCOMMANDADD_keyboard_click",
        **{
            "data[COMMAND][103][COMMAND_PARAMS]": params,
            "data[USER][ID]": str(user_id),
            "data[PARAMS][DIALOG_ID]": str(user_id),
            "data[PARAMS][FROM_USER_ID]": str(user_id),
            "auth[user_id]": str(user_id),
        },
    )


def reply_body(message: str, message_id: int = 84331, **fields: str) -> bytes:
    """A message typed to the bot in the private chat."""
    return event_body(
        "ONIMBOTMESSAGEADD_text_reply",
        **{"data[PARAMS][MESSAGE]": message, "data[PARAMS][MESSAGE_ID]": str(message_id), **fields},
    )
