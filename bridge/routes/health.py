"""The probes: liveness (`/healthz`) and readiness (`/readyz`); `bridge.health` decides them."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bridge import health
from bridge.routes.state import State

router = APIRouter()


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz(state: State) -> JSONResponse:
    """Liveness: the process answers and the database is reachable."""
    return await health.liveness(state.engine)


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(state: State) -> JSONResponse:
    """Readiness: the service is doing its job (worker, bot, portal, settings), with reasons."""
    return await health.readiness(state.engine, state.settings, state.worker, state.poller)
