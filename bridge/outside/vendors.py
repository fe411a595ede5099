"""Building the outside world: Okdesk and Bitrix24 clients, each on a wire of its own with a
cap on requests in flight (Okdesk's client hands its requests straight to it, Bitrix24's goes
through an httpx client), and the Bitrix24 request budget every replica shares through the
database.

Bitrix24 counts requests per portal (a leaky bucket: burst 50, drained 2 a second; reference
bitrix24.md §7), so a limit kept in one process's memory would be exceeded by two replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import httpx
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from bot.choice import messenger_for
from bot.client import BitrixClient
from bot.messenger import Messenger
from bot.portals.messengers import PortalMessengers
from bridge.config.metrics import PrometheusObserver
from bridge.config.settings import Settings
from bridge.okdesk.client import OkdeskClient
from bridge.okdesk.helpdesk import Helpdesk
from bridge.outside.connections import KeptConnections
from bridge.outside.in_flight import InFlightCap, PerPortal
from bridge.outside.portals import PortalDirectory, ensure_default, renamed
from bridge.outside.priority import IntakeFirst, YieldingTransport
from bridge.outside.renamed import RenamedPortals
from storage import budget
from storage.db import transaction
from storage.portals import DEFAULT
from storage.tables import utcnow


@dataclass(frozen=True)
class Vendors:
    """The outside world, as the jobs see it."""

    helpdesk: Helpdesk
    # Every portal behind one Messenger: a message goes through the portal its ids name.
    messenger: Messenger
    # The settings' own portal's messenger, as it is (the imbot.v2 poller fetches through it).
    home: Messenger | None = None
    # An added portal's messenger as it is, from its settings and number (its poller's).
    build: Callable[[Settings, int], Messenger] | None = None


# Requests of room the bucket keeps below the portal's burst (`budget_shape`).
HEADROOM = 1


@dataclass(frozen=True)
class BudgetShape:
    """The shared bucket of our portal: its stored name, its burst and its refill rate."""

    name: str
    burst: int
    per_second: float


def budget_shape(settings: Settings, portal: int = 0) -> BudgetShape:
    """A portal's bucket (each portal has its own: bitrix24-portals.md §2; the settings'
    portal keeps the name it had before): the portal's own documented limit (bitrix24.md §7),
    all of it.

    A request is counted when it leaves, the portal counts it when it arrives: two requests
    granted half a second apart arrive closer when the first is slower on its way, so the
    bucket keeps one request of room (`HEADROOM`; it costs half a second once, at the start of
    a burst). Should the portal still refuse one for its limit (another application on the
    portal), the bucket is emptied (`SharedRequestBudget.refused`), so every replica waits for
    the portal to drain.
    """
    burst = settings.bitrix_burst - HEADROOM
    if settings.bitrix_api == "v2":
        # imbot.v2's pages say "2 requests per second per application" with 429, the general
        # rules a burst of 50 (bitrix24-v2.md §6, open point 3): keep to the stricter one.
        burst = min(burst, 2)
    return BudgetShape(
        name=f"bitrix:{settings.portal_domain}" if portal == 0 else f"bitrix:portal:{portal}",
        burst=max(1, burst),
        per_second=settings.bitrix_requests_per_second,
    )


def budgets_left(
    reader: Session | Connection, settings: Settings, apis: Mapping[int, str]
) -> dict[int, float]:
    """Requests each portal's shared bucket would grant now, by portal number (`apis`: each
    portal's API, which shapes its bucket), read in one statement."""
    shapes = _budget_shapes(settings, apis)
    # The bucket runs on the wall clock, as `SharedRequestBudget` does.
    left = budget.tokens_left_in(reader, buckets=_buckets(shapes), now=time.time())
    return {number: left[shape.name] for number, shape in shapes.items()}


def budgets_left_of(
    stored: Mapping[str, tuple[float, float]], settings: Settings, apis: Mapping[int, str]
) -> dict[int, float]:
    """`budgets_left` of buckets already read (name → tokens, refilled at): /metrics reads
    them all in its one statement (`storage.reading.gauges`)."""
    shapes = _budget_shapes(settings, apis)
    left = budget.left_of(stored, buckets=_buckets(shapes), now=time.time())
    return {number: left[shape.name] for number, shape in shapes.items()}


def _budget_shapes(settings: Settings, apis: Mapping[int, str]) -> dict[int, BudgetShape]:
    return {
        number: budget_shape(settings.model_copy(update={"bitrix_api": api}), number)
        for number, api in apis.items()
    }


def _buckets(shapes: Mapping[int, BudgetShape]) -> dict[str, tuple[int, float]]:
    return {shape.name: (shape.burst, shape.per_second) for shape in shapes.values()}


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

    async def refused(self) -> None:
        """The portal refused a request for its limit: empty the bucket for every replica."""
        await asyncio.to_thread(self._empty)

    def _empty(self) -> None:
        with transaction(self._engine) as session:
            budget.empty(session, name=self._name, now=time.time())


@asynccontextmanager
async def open_vendors(
    settings: Settings,
    engine: Engine,
    transport: httpx.AsyncBaseTransport | None = None,
    priority: IntakeFirst | None = None,
) -> AsyncIterator[Vendors]:
    """Clients for Okdesk and every Bitrix24 portal, each vendor on a long-lived wire whose
    requests in flight are capped to its pool (`bridge.outside.in_flight`). With
    `priority`, each Okdesk call waits while the service answers intake requests
    (`bridge.outside.priority`); Bitrix24 calls do not, their budget paces them (a granted
    request that waited would be lost)."""
    # The settings' portal is the stored portal `default` (the first start after an upgrade
    # stores it), wherever vendors are opened: the service, or a worker run alone.
    await asyncio.to_thread(ensure_default, engine, settings, utcnow())
    bitrix_cap = settings.bitrix_max_in_flight
    # Each portal its own places: one portal's slow server never delays another's requests.
    bitrix_way = PerPortal(
        lambda: InFlightCap(transport or KeptConnections(bitrix_cap), bitrix_cap)
    )
    # A renamed portal's one redirect is followed, and its stored webhook moved with it.
    renaming = RenamedPortals(bitrix_way, partial(_renamed, engine, settings))
    okdesk = _okdesk_wire(settings, transport, priority)
    async with okdesk, _http(settings, renaming) as bitrix:
        home = portal_messenger(bitrix, engine, settings, 0, PrometheusObserver(DEFAULT))
        directory = PortalDirectory(engine, settings)
        load = _loader(bitrix, engine, directory)
        yield Vendors(
            helpdesk=OkdeskClient(
                okdesk,
                settings.okdesk_url,
                settings.okdesk_api_token.get_secret_value(),
                timeout=settings.http_timeout.total_seconds(),
                observer=PrometheusObserver(),
            ),
            messenger=PortalMessengers(home, load),
            home=home,
            build=partial(_built, bitrix, engine, directory),
        )


def _okdesk_wire(
    settings: Settings, transport: httpx.AsyncBaseTransport | None, priority: IntakeFirst | None
) -> httpx.AsyncBaseTransport:
    """Okdesk's requests capped in flight to its pool; with `priority`, each waits its turn."""
    cap = settings.okdesk_max_in_flight
    way = InFlightCap(transport or KeptConnections(cap), cap)
    return way if priority is None else YieldingTransport(way, priority)


def portal_messenger(
    http: httpx.AsyncClient,
    engine: Engine,
    settings: Settings,
    number: int,
    observer: PrometheusObserver,
    name: str | None = None,
) -> Messenger:
    """One portal's messenger: its own client, within its own shared request budget; `name`:
    an added portal's (what brings its bot back names it), None for the settings' own."""
    shape = budget_shape(settings, number)
    shared = SharedRequestBudget(
        engine, name=shape.name, burst=shape.burst, per_second=shape.per_second
    )
    secret = settings.bitrix_client_id.get_secret_value()
    client = BitrixClient(http, settings.bitrix_webhook_url, secret, shared, observer=observer)
    return messenger_for(settings, client, name)


def _built(
    http: httpx.AsyncClient,
    engine: Engine,
    directory: PortalDirectory,
    settings: Settings,
    number: int,
) -> Messenger:
    """An added portal's messenger as it is (its requests counted under the portal's name)."""
    view = directory.numbered(number)
    name = None if view is None else view.name
    # A portal removed meanwhile: its poller stops at the next look.
    said = name or f"<portal {number}>"
    return portal_messenger(http, engine, settings, number, PrometheusObserver(name), said)


def _loader(
    http: httpx.AsyncClient,
    engine: Engine,
    directory: PortalDirectory,
) -> Callable[[int], Awaitable[Messenger | None]]:
    """Builds an added portal's messenger from its stored row (None: removed or unknown)."""

    async def load(number: int) -> Messenger | None:
        view = await asyncio.to_thread(directory.numbered, number)
        if view is None:
            return None
        observer = PrometheusObserver(view.name)
        return portal_messenger(http, engine, view.settings, number, observer, view.name)

    return load


async def _renamed(engine: Engine, settings: Settings, old: str, new: str) -> None:
    await asyncio.to_thread(renamed, engine, settings, old, new, utcnow())


def _http(settings: Settings, transport: httpx.AsyncBaseTransport) -> httpx.AsyncClient:
    timeout = settings.http_timeout.total_seconds()
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport)
