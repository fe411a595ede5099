"""`/metrics`: the service's counters and the database's gauges, in Prometheus text format.

With `METRICS_TOKEN` set, only `Authorization: Bearer <token>` is served (compared in constant
time), anything else gets 401, and wrong tokens are throttled per address. Without it, only the
loopback is served (403 for anyone else): a scrape reads the database, and was the dearest
thing a stranger could ask (webhook p50 ×12.8 under a flood, issue 23). A scrape is kept for
`CACHED` (a second, by the app's clock): scrapes within it get the same text, and one at a
time reads the database.
"""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bridge.config.metrics import REGISTRY
from bridge.web.gauges import StoredGauges
from bridge.web.intake import SenderLimit, same_secret
from bridge.web.routes.state import App, State

router = APIRouter()
CACHED = timedelta(seconds=1)
GUESSES_PER_MINUTE = 10


class Scrapes:
    """The last scrape's text, kept `CACHED` seconds; wrong tokens by address."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.text = b""
        self.at: datetime | None = None
        self.guesses = SenderLimit(GUESSES_PER_MINUTE)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: State) -> Response:
    """Everything Prometheus scrapes: counters of this process, gauges of the database."""
    scrapes: Scrapes = getattr(request.app.state, "scrapes", None) or Scrapes()
    request.app.state.scrapes = scrapes
    _check(request, state, scrapes)
    async with scrapes.lock:
        now = state.clock()
        if scrapes.at is None or not scrapes.at <= now < scrapes.at + CACHED:
            scrapes.text = await asyncio.to_thread(_scrape, state)
            scrapes.at = now
        body = scrapes.text
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _check(request: Request, state: App, scrapes: Scrapes) -> None:
    address = request.client.host if request.client else "-"
    token = state.settings.metrics_token
    if token is None:
        if not _loopback(address):
            raise HTTPException(403, "set METRICS_TOKEN to scrape /metrics from elsewhere")
        return
    if scrapes.guesses.spent(address):
        raise HTTPException(429, "too many wrong metrics tokens", headers={"Retry-After": "60"})
    if not same_secret(_bearer(request.headers.get("authorization")), token.get_secret_value()):
        scrapes.guesses.allow(address)
        raise HTTPException(
            401, "missing or wrong metrics token", headers={"WWW-Authenticate": "Bearer"}
        )


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _bearer(header: str | None) -> str | None:
    scheme, _, credentials = (header or "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def _scrape(state: App) -> bytes:
    # The database's gauges are collected by a registry of this scrape only: reading them
    # is the scrape's one short transaction.
    stored = CollectorRegistry(auto_describe=False)
    stored.register(StoredGauges(state.engine, state.settings, state.clock))
    return generate_latest(REGISTRY) + generate_latest(stored)
