"""An added portal's bot events (imbot v1), on the portal's own route.

Each added portal's bot is registered with `/api/v1/bitrix/portals/<route key>/events` and a
secret of its own (`python -m bridge.admin portal add`), so the URL alone names the portal.
Then the event is checked as the settings' portal's are (`bridge.web.routes.bitrix`), against
that portal: its events secret, application token (its CLIENT_ID), domain and pinned
`member_id`. Its ids are scoped by the portal before anything is stored, so a click or a reply
that comes through portal A never touches portal B's survey, even naming B's button token.
"""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import APIRouter, HTTPException, Request

from bot.events import parse_event
from bot.texts.form import EventFormatError
from bridge.outside.priority import intake_accepted
from bridge.web.intake import (
    BITRIX_MAX_BODY,
    BITRIX_OPENAPI,
    FORM_TYPES,
    known_secret,
    read_body,
    require_type,
)
from bridge.web.routes.bitrix import handle_events, refuse_another_portal
from bridge.web.routes.state import State

router = APIRouter()
# Route keys are 16 hex digits (`portal add`); anything longer is no key of ours.
ROUTE_KEY_LIMIT = 64


@router.post("/api/v1/bitrix/portals/{route_key}/events", openapi_extra=BITRIX_OPENAPI)
async def portal_events(route_key: str, request: Request, state: State) -> dict[str, str]:
    """Bitrix24 tells an added portal's bot something happened."""
    portal = None
    if len(route_key) <= ROUTE_KEY_LIMIT:
        portal = await asyncio.to_thread(state.portals.by_route, route_key)
    if portal is None or portal.settings.bitrix_api != "v1":
        raise HTTPException(404, "no portal has this event route")
    if not known_secret(request.query_params.get("token"), portal.settings.events_tokens):
        raise HTTPException(403, "missing or wrong events token")
    require_type(request, FORM_TYPES)
    body = await read_body(request, BITRIX_MAX_BODY)
    try:
        parsed = parse_event(body)
    except EventFormatError as exc:
        raise HTTPException(400, str(exc)) from None
    refuse_another_portal(parsed, portal.settings)
    intake_accepted(request)  # from now on the worker waits (bridge.outside.priority)
    await asyncio.to_thread(partial(handle_events, state, parsed, portal=portal))
    state.wake_worker()
    return {"result": "ok"}
