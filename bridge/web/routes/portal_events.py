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

from bridge.web.intake import BITRIX_OPENAPI
from bridge.web.routes.bitrix import handle_events, read_event
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
    parsed = await read_event(request, portal.settings)
    await asyncio.to_thread(partial(handle_events, state, parsed, portal=portal))
    state.wake_worker()
    return {"result": "ok"}
