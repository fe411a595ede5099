"""Building the outside world: Okdesk and Bitrix24 clients around one HTTP client, and the
Bitrix24 request budget every replica shares through the database.

Bitrix24 counts requests per portal (a leaky bucket: burst 50, drained 2 a second; reference
bitrix24.md §7), so a limit kept in one process's memory would be exceeded by two replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.engine import Engine

from bot.choice import messenger_for
from bot.client import BitrixClient
from bot.messenger import Messenger
from bridge.config.metrics import PrometheusObserver
from bridge.config.settings import Settings
from bridge.okdesk.client import OkdeskClient
from bridge.okdesk.helpdesk import Helpdesk
from bridge.outside.portals import ensure_default
from bridge.outside.priority import IntakeFirst, YieldingTransport
from storage import budget
from storage.db import transaction
from storage.tables import utcnow


@dataclass(frozen=True)
class Vendors:
    """The outside world, as the jobs see it."""

    helpdesk: Helpdesk
    messenger: Messenger


@dataclass(frozen=True)
class BudgetShape:
    """The shared bucket of our portal: its stored name, its burst and its refill rate."""

    name: str
    burst: int
    per_second: float


def budget_shape(settings: Settings, portal: int = 0) -> BudgetShape:
    """A portal's bucket, a little below the portal's own limit (each portal has its own:
    bitrix24-portals.md §2); the settings' portal keeps the name it had before."""
    # A request is counted when it leaves, but reaches the portal a little later: keep
    # a 10% margin below the portal's limit so that jitter on the way never exceeds it.
    burst = settings.bitrix_burst
    if settings.bitrix_api == "v2":
        # imbot.v2's pages say "2 requests per second per application" with 429, the general
        # rules a burst of 50 (bitrix24-v2.md §6, open point 3): keep to the stricter one.
        burst = min(burst, 2)
    return BudgetShape(
        name=f"bitrix:{settings.portal_domain}" if portal == 0 else f"bitrix:portal:{portal}",
        burst=max(1, int(burst * 0.9)),
        per_second=settings.bitrix_requests_per_second * 0.9,
    )


class SharedRequestBudget:
    """Waits until the portal's shared bucket has room for one more request."""

    def __init__(self, engine: Engine, *, name: str, burst: int, per_second: float) -> None:
        self._engine = engine
        self._name = name
        self._burst = burst
        self._per_second = per_second

    def _take(self) -> float:
        with transaction(self._engine) as session:
            return budget.take_request(
                session,
                name=self._name,
                now=time.time(),
                burst=self._burst,
                per_second=self._per_second,
            )

    async def acquire(self) -> None:
        """Take one request from the bucket, sleeping while it is empty."""
        while True:
            wait = await asyncio.to_thread(self._take)
            if wait <= 0:
                return
            await asyncio.sleep(wait)


@asynccontextmanager
async def open_vendors(
    settings: Settings,
    engine: Engine,
    transport: httpx.AsyncBaseTransport | None = None,
    priority: IntakeFirst | None = None,
) -> AsyncIterator[Vendors]:
    """Clients for Okdesk and Bitrix24 around one long-lived HTTP client; with `priority`,
    each call waits while the service answers intake requests (`bridge.outside.priority`)."""
    # The settings' portal is the stored portal `default` (the first start after an upgrade
    # stores it), wherever vendors are opened: the service, or a worker run alone.
    await asyncio.to_thread(ensure_default, engine, settings, utcnow())
    timeout = settings.http_timeout.total_seconds()
    if priority is not None:
        transport = YieldingTransport(transport or httpx.AsyncHTTPTransport(), priority)
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, transport=transport
    ) as http:
        shape = budget_shape(settings)
        shared = SharedRequestBudget(
            engine, name=shape.name, burst=shape.burst, per_second=shape.per_second
        )
        observer = PrometheusObserver()
        bitrix = BitrixClient(
            http,
            settings.bitrix_webhook_url,
            settings.bitrix_client_id.get_secret_value(),
            shared,
            observer=observer,
        )
        yield Vendors(
            helpdesk=OkdeskClient(
                http,
                settings.okdesk_url,
                settings.okdesk_api_token.get_secret_value(),
                observer=observer,
            ),
            messenger=messenger_for(settings, bitrix),
        )
