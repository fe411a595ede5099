"""`/metrics`: the service's counters and the database's gauges, in Prometheus text format.

Open unless `METRICS_TOKEN` is set; then only `Authorization: Bearer <token>` is served
(compared in constant time) and anything else gets 401.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from bridge.gauges import StoredGauges
from bridge.intake import same_secret
from bridge.metrics import REGISTRY
from bridge.routes.state import App, State

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: State) -> Response:
    """Everything Prometheus scrapes: counters of this process, gauges of the database."""
    token = state.settings.metrics_token
    if token is not None and not same_secret(
        _bearer(request.headers.get("authorization")), token.get_secret_value()
    ):
        raise HTTPException(
            401, "missing or wrong metrics token", headers={"WWW-Authenticate": "Bearer"}
        )
    body = await asyncio.to_thread(_scrape, state)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _bearer(header: str | None) -> str | None:
    scheme, _, credentials = (header or "").strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def _scrape(state: App) -> bytes:
    # The database's gauges are collected by a registry of this scrape only: reading them
    # is the scrape's one short transaction.
    stored = CollectorRegistry(auto_describe=False)
    stored.register(StoredGauges(state.engine, state.settings, state.clock))
    return generate_latest(REGISTRY) + generate_latest(stored)
