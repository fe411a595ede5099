"""The probes: liveness (`/healthz`) and readiness (`/readyz`), which `bridge.web.health` decides,
and the front door (`/`): a short page that says what answers here and links to the rest."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from bridge.web import health
from bridge.web.routes.state import State

router = APIRouter()


@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz(state: State) -> JSONResponse:
    """Liveness: the process answers and the database is reachable."""
    return await health.liveness(state.engine)


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(state: State) -> JSONResponse:
    """Readiness: the service is doing its job (worker, bot, portal, settings), with reasons."""
    return await health.readiness(state.engine, state.settings, state.worker, state.poller)


_FRONT_DOOR = {
    "ru": (
        "Оценка заявок Okdesk в Битрикс24",
        "Сервис работает. Здесь нет страниц для людей, кроме отчёта.",
        ("Отчёт", "жив ли процесс", "делает ли сервис свою работу (с причинами)"),
    ),
    "en": (
        "Okdesk → Bitrix24 ticket rating",
        "The service is running. There are no pages for people here but the report.",
        ("Report", "is the process alive", "is the service doing its job (with reasons)"),
    ),
}


@router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def front_door(state: State) -> HTMLResponse:
    """A short page naming the service, with links to the report and the probes."""
    title, intro, (report, alive, ready) = _FRONT_DOOR[state.settings.language]
    admin = f'<li><a href="/admin">{report}</a></li>' if state.settings.admin_token else ""
    body = (
        f"<!doctype html><html lang={state.settings.language}><meta charset=utf-8>"
        f"<title>{title}</title><h1>{title}</h1><p>{intro}</p><ul>{admin}"
        f'<li><a href="/healthz">/healthz</a>: {alive}</li>'
        f'<li><a href="/readyz">/readyz</a>: {ready}</li></ul></html>'
    )
    return HTMLResponse(body)
