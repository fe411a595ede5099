"""The Okdesk webhook: Okdesk tells us a ticket's status changed; a closure starts a survey.

Thin: check the secret, read a bounded JSON body, store the outcome and its queued work in one
transaction, answer. Okdesk is never called from here; the worker does that.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError

from bridge.config import metrics
from bridge.okdesk.data import OkdeskWebhook, clean_text
from bridge.outside.priority import intake_accepted
from bridge.survey import closures
from bridge.web.intake import (
    JSON_TYPES,
    OKDESK_MAX_BODY,
    OKDESK_OPENAPI,
    describe,
    json_object,
    read_body,
    require_type,
    same_secret,
)
from bridge.web.routes.state import App, State, refuse_while_placeholder

log = logging.getLogger(__name__)
router = APIRouter()


# The older tool's path, so Okdesk accounts already pointed at it keep working.
@router.post("/api/v1/okdesk/create_rate_request", include_in_schema=False)
@router.post("/api/v1/okdesk/webhook", openapi_extra=OKDESK_OPENAPI)
async def okdesk_webhook(request: Request, state: State) -> dict[str, str]:
    """Okdesk tells us a ticket changed; a closure starts a survey."""
    try:
        answer = await _receive(request, state)
    except HTTPException as exc:
        metrics.webhook(f"refused_{exc.status_code}")
        raise
    metrics.webhook(answer["result"])
    return answer


async def _receive(request: Request, state: App) -> dict[str, str]:
    refuse_while_placeholder(state, "OKDESK_WEBHOOK_TOKEN")
    given = request.query_params.get("token") or request.headers.get("x-webhook-token")
    if not same_secret(given, state.settings.okdesk_webhook_token.get_secret_value()):
        raise HTTPException(401, "missing or wrong webhook token")
    require_type(request, JSON_TYPES)
    payload = json_object(await read_body(request, OKDESK_MAX_BODY))
    event_type = _event_type(payload)
    if event_type != "new_ticket_status":
        return {"result": "ignored", "reason": f"event {event_type[:60]!r} is not a status change"}
    change = _status_change(payload)
    if change.new_status in state.settings.okdesk_trigger_statuses:
        _throttle(state, request, change.issue_id)
    intake_accepted(request)  # from now on the worker waits (bridge.outside.priority)
    decision = await state.status_changes.submit((change, state.clock()))
    log.info(
        "okdesk.webhook issue_id=%s status=%s result=%s",
        change.issue_id,
        change.new_status,
        decision,
    )
    state.wake_worker()
    return {"result": decision.value}


def _event_type(payload: dict[str, Any]) -> str:
    event = payload.get("event")
    event_type = event.get("event_type") if isinstance(event, dict) else None
    if not isinstance(event_type, str):
        raise HTTPException(400, "event.event_type is required")
    return event_type


def _status_change(payload: dict[str, Any]) -> closures.StatusChange:
    try:
        webhook = OkdeskWebhook.model_validate(payload)
    except ValidationError as exc:
        raise HTTPException(400, describe(exc)) from None
    return closures.StatusChange(
        issue_id=webhook.issue.id,
        new_status=webhook.new_status,
        contact_id=webhook.contact_id,
        title=clean_text(webhook.issue.title, 1000),
        engineer=clean_text(webhook.engineer, 300),
        context=webhook.context,
        closed_at=webhook.closed_at,
    )


def _throttle(state: App, request: Request, issue_id: int) -> None:
    """429 when this sender has opened too many surveys in the last minute."""
    if not state.senders.allow(request.client.host if request.client else "unknown"):
        log.warning("okdesk.webhook_throttled issue_id=%s", issue_id)
        raise HTTPException(
            429,
            "too many closures from this sender: reconciliation will pick up genuine ones",
            headers={"Retry-After": "60"},
        )
