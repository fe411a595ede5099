"""imbot.v2 in webhook mode (`BITRIX_EVENT_MODE=webhook`): Bitrix24 posts `ONIMBOTV2*` events.

Checked as strictly as v1's (`bridge.web.routes.bitrix`): the secret in our URL, the body's type
and size, the top-level `auth[application_token]`, `auth[domain]` and the configured
`auth[member_id]` (an event without one passes), and the bot each event names. The body is a
form in which every value is a string, or JSON (bitrix24-v2.md, open point 2); either is read.
Handling is v1's path.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from functools import partial

from fastapi import APIRouter, HTTPException, Request

from bot.events import ParsedEvent
from bot.texts.form import EventFormatError
from bot.v2.events_v2 import parse_v2_body
from bridge.config.settings import Settings
from bridge.outside.priority import intake_accepted
from bridge.web.intake import (
    BITRIX_MAX_BODY,
    BITRIX_OPENAPI,
    FORM_TYPES,
    JSON_TYPES,
    known_secret,
    read_body,
    require_type,
)
from bridge.web.routes.bitrix import handle_events
from bridge.web.routes.state import State, refuse_while_placeholder

log = logging.getLogger(__name__)
router = APIRouter()


@router.post("/api/v1/bitrix/v2/events", openapi_extra=BITRIX_OPENAPI)
async def bitrix_v2_events(request: Request, state: State) -> dict[str, str]:
    """Bitrix24 tells the v2 bot something happened (webhook mode)."""
    if state.settings.bitrix_api != "v2":
        raise HTTPException(404, "imbot.v2 is not in use (BITRIX_API=v1)")
    refuse_while_placeholder(state, "BITRIX_EVENTS_TOKEN")
    if not known_secret(request.query_params.get("token"), state.settings.events_tokens):
        raise HTTPException(403, "missing or wrong events token")
    require_type(request, FORM_TYPES + JSON_TYPES)
    body = await read_body(request, BITRIX_MAX_BODY)
    try:
        parsed = parse_v2_body(body, request.headers.get("content-type", ""))
    except EventFormatError as exc:
        raise HTTPException(400, str(exc)) from None
    except RecursionError:  # json.loads of `[[[[…` 30,000 deep (a 500 before)
        raise HTTPException(400, "the body is nested too deeply") from None
    _refuse_another_portal(parsed, state.settings)
    # A v2 webhook event may come without auth[member_id] (bitrix24.md §12): accepted on the
    # application token, the URL secret and the domain.
    intake_accepted(request)  # from now on the worker waits (bridge.outside.priority)
    await asyncio.to_thread(partial(handle_events, state, parsed, may_lack_member=True))
    state.wake_worker()
    return {"result": "ok"}


def expected_tokens(settings: Settings) -> list[str]:
    """What `auth[application_token]` may be for a botToken bot: BITRIX_APPLICATION_TOKEN when
    set (an OAuth application's, saved at ONAPPINSTALL); otherwise the reference gives none
    (open point 7): SRV's "custom" + botToken, or the botToken itself, as v1 sends CLIENT_ID."""
    if settings.bitrix_application_token is not None:
        return [settings.bitrix_application_token.get_secret_value()]
    return ["custom" + settings.bot_token, settings.bot_token]


def _refuse_another_portal(parsed: ParsedEvent, settings: Settings) -> None:
    given = parsed.auth.application_token.encode()
    if not any(hmac.compare_digest(given, t.encode()) for t in expected_tokens(settings)):
        # The URL secret matched: most likely our portal, with a setting that does not.
        log.warning(
            "bitrix.event_refused reason=application_token event=%s: check "
            "BITRIX_APPLICATION_TOKEN / BITRIX_BOT_TOKEN",
            parsed.name,
        )
        raise HTTPException(403, "the event's application token is not ours")
    if parsed.auth.domain.lower().split(":")[0] != settings.portal_domain:
        log.warning("bitrix.event_refused reason=domain event=%s", parsed.name)
        raise HTTPException(403, "the event comes from another portal")
