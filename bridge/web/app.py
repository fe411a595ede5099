"""The web app: its routes (`bridge.web.routes`), and a lifespan that applies migrations and runs
the worker beside them.

Process-wide set-up (log redaction, the threads database work runs on) is not here: it happens
once when the process starts (`bridge.__main__`, `bridge.web.server`), not once per app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.texts import messages
from bridge.config.settings import Settings
from bridge.outside.priority import IntakeFirst, IntakeMiddleware
from bridge.outside.vendors import open_vendors
from bridge.survey import closures
from bridge.web.limits import install_limits
from bridge.web.pollers import start_polling
from bridge.web.routes import (
    admin,
    admin_portals,
    bitrix,
    bitrix_v2,
    health,
    metrics,
    okdesk,
    portal_events,
)
from bridge.web.routes.state import App
from bridge.web.server import limits_of
from bridge.worker.loop import Worker
from storage.db import create_db_engine
from storage.migrate import upgrade
from storage.tables import utcnow

log = logging.getLogger(__name__)
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The FastAPI app; its lifespan applies migrations and runs the worker."""
    messages.use_texts(settings.chosen_texts())
    priority = IntakeFirst()
    app = FastAPI(
        title="Okdesk → Bitrix24 ticket rating",
        version="0.1.0",
        lifespan=_lifespan(settings, transport, clock, priority),
        docs_url=None,
        redoc_url=None,
        # The schema describes the intake routes for schema-driven tests; public only if asked.
        openapi_url="/openapi.json" if settings.openapi_enabled else None,
        # A redirect would repeat the secret ?token= in its Location and echo the Host header.
        redirect_slashes=False,
    )
    for routes in (okdesk, bitrix, bitrix_v2, portal_events, health, metrics):
        app.include_router(routes.router)
    if settings.admin_token is not None:
        # Without ADMIN_TOKEN the report does not exist (404), rather than refuse everyone.
        app.include_router(admin.router)
        app.include_router(admin_portals.router)
    app.add_exception_handler(SQLAlchemyError, _storage_unavailable)
    app.add_middleware(IntakeMiddleware, priority=priority)
    app.state.intake_first = priority
    install_limits(app, limits_of(settings))
    return app


def _lifespan(
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    clock: Callable[[], datetime],
    priority: IntakeFirst,
) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings.database_url)
        await asyncio.to_thread(upgrade, settings.database_url)
        await asyncio.to_thread(closures.warm_up, engine, settings, clock())
        state = App(settings, engine, clock)
        app.state.bridge = state
        stop = asyncio.Event()
        try:
            async with open_vendors(
                settings, engine, transport=transport, priority=priority
            ) as vendors:
                state.chat = vendors.messenger
                tasks = []
                if settings.worker_enabled and not settings.placeholders():
                    state.worker = Worker(engine, settings, vendors, clock, priority=priority)
                    tasks.append(asyncio.create_task(state.worker.run(stop)))
                if not settings.placeholders():
                    # Fetching events is the web side's intake, not the worker's: every
                    # replica may poll (one at a time, by lease), WORKER_ENABLED or not.
                    home = vendors.home or vendors.messenger
                    tasks += start_polling(state, home, vendors.build, stop)
                yield
                stop.set()
                for task in tasks:
                    await task
        finally:
            engine.dispose()

    return lifespan


async def _storage_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # Nothing was committed: a 503 tells the sender to deliver again.
    log.error("storage.unavailable error=%s", type(exc).__name__)
    return JSONResponse({"detail": "storage is unavailable, try again later"}, status_code=503)
