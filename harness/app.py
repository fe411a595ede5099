"""The one way to run the app in-process: its lifespan (migrations, worker) against the fakes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from starlette.types import ASGIApp

from bridge.config.logs import install_redaction
from bridge.config.settings import Settings
from bridge.web.app import create_app
from bridge.web.server import ServerConfig, database_threads, limits_of
from harness.senders import Senders
from harness.vendors import Vendors
from storage.tables import utcnow


class Running(Senders[Coroutine[Any, Any, httpx.Response]]):
    """The app with its lifespan running, a client that talks to it, and the vendors' senders."""

    def __init__(
        self, client: httpx.AsyncClient, settings: Settings, app: ASGIApp | None = None
    ) -> None:
        super().__init__(client.post)
        self.client = client
        self.settings = settings
        self.app = app


@asynccontextmanager
async def running_app(
    settings: Settings,
    fakes: Vendors,
    *,
    clock: Callable[[], datetime] = utcnow,
    peer: str = "127.0.0.1",
    as_served: bool = False,
) -> AsyncIterator[Running]:
    """Run the app against the fakes until the block ends, at `clock`'s time (a ManualClock
    puts the app's and its worker's time under the test's control). Requests come from
    `peer`; `as_served`: through what uvicorn wraps around the app (`ServerConfig.load`)."""
    # What `python -m bridge` sets up once per process.
    install_redaction(settings.secrets())
    asyncio.get_running_loop().set_default_executor(database_threads(settings.database_url))
    app = create_app(settings, transport=fakes.transport, clock=clock)
    async with app.router.lifespan_context(app):
        served: ASGIApp = app
        if as_served:
            config = ServerConfig(app, settings, limits_of(settings))
            config.load()
            served = config.loaded_app
        transport = httpx.ASGITransport(app=served, client=(peer, 50123))
        async with httpx.AsyncClient(transport=transport, base_url="http://rating.test") as client:
            yield Running(client, settings, app)
