"""The web app: the Okdesk webhook, the Bitrix24 events endpoint and the health check.

Routes are thin: check the secret, read a bounded body, parse it, store the outcome and queued
work in one transaction, answer. No route calls Okdesk or Bitrix24; the worker does.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from bot import messages
from bot.events import BotDeleted, BotJoined, ChatReply, EventFormatError, RatingClick, parse_event
from bot.messages import RATE_COMMAND, parse_command_params
from bot.replies import parse_rating
from bridge import service
from bridge.jobs import BOT_DELETED
from bridge.logs import install_redaction
from bridge.okdesk import OkdeskWebhook, clean_text
from bridge.settings import Settings
from bridge.worker import Worker, open_vendors
from storage import queries
from storage.db import create_db_engine, ping, transaction
from storage.migrate import upgrade
from storage.tables import utcnow

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)


# The routes read their bodies themselves (bounded, in the vendors' own encodings), so their
# shapes are described here for the API's readers and for schema-driven tests.
_STRING = {"type": "string"}
_TOKEN = {"name": "token", "in": "query", "required": False, "schema": _STRING}
OKDESK_OPENAPI: dict[str, Any] = {
    "parameters": [
        _TOKEN,
        {
            "name": "X-Webhook-Token",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["event"],
                    "properties": {
                        "event": {
                            "type": "object",
                            "properties": {
                                "event_type": {"type": "string"},
                                "new_status": {
                                    "type": "object",
                                    "properties": {"code": {"type": "string"}},
                                },
                            },
                        },
                        "issue": {
                            "type": "object",
                            "properties": {
                                "id": {"type": ["integer", "string"]},
                                "title": {"type": ["string", "null"]},
                                "client": {"type": ["object", "null"]},
                            },
                        },
                    },
                }
            }
        },
    },
}
BITRIX_OPENAPI: dict[str, Any] = {
    "parameters": [_TOKEN],
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        name: {"type": "string"}
                        for name in (
                            "event",
                            "auth[application_token]",
                            "auth[domain]",
                            "data[PARAMS][MESSAGE]",
                            "data[PARAMS][DIALOG_ID]",
                            "data[PARAMS][CHAT_TYPE]",
                            "data[USER][ID]",
                            "data[USER][IS_BOT]",
                            "data[COMMAND][103][COMMAND]",
                            "data[COMMAND][103][COMMAND_PARAMS]",
                        )
                    },
                }
            }
        },
    },
}


class App:
    """What the routes need, built once in the lifespan."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.worker: Worker | None = None

    def wake_worker(self) -> None:
        """Tell the in-process worker that new work is stored."""
        if self.worker is not None:
            self.worker.wake()


def create_app(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The FastAPI app; its lifespan applies migrations and runs the worker."""
    install_redaction(settings.secrets())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Database work runs in threads: the default pool (cores + 4) would queue requests.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=32, thread_name_prefix="db")
        )
        engine = create_db_engine(settings.database_url)
        await asyncio.to_thread(upgrade, settings.database_url)
        state = App(settings, engine, clock)
        app.state.bridge = state
        stop = asyncio.Event()
        try:
            async with open_vendors(settings, engine, transport=transport) as vendors:
                task = None
                if settings.worker_enabled and not settings.placeholders():
                    state.worker = Worker(engine, settings, vendors, clock)
                    task = asyncio.create_task(state.worker.run(stop))
                yield
                stop.set()
                if task is not None:
                    await task
        finally:
            engine.dispose()

    app = FastAPI(
        title="Okdesk → Bitrix24 ticket rating",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_api_route(
        "/api/v1/okdesk/webhook", okdesk_webhook, methods=["POST"], openapi_extra=OKDESK_OPENAPI
    )
    # The older tool's path, so Okdesk accounts already pointed at it keep working.
    app.add_api_route(
        "/api/v1/okdesk/create_rate_request",
        okdesk_webhook,
        methods=["POST"],
        include_in_schema=False,
    )
    app.add_api_route(
        "/api/v1/bitrix/events", bitrix_events, methods=["POST"], openapi_extra=BITRIX_OPENAPI
    )
    app.add_api_route("/healthz", healthz, methods=["GET"])
    app.add_exception_handler(SQLAlchemyError, _storage_unavailable)
    return app


def _state(request: Request) -> App:
    state: App = request.app.state.bridge
    return state


State = Annotated[App, Depends(_state)]


async def _storage_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # Nothing was committed: a 503 tells the sender to deliver again.
    log.error("storage.unavailable error=%s", type(exc).__name__)
    return JSONResponse({"detail": "storage is unavailable, try again later"}, status_code=503)


def _same_secret(given: str | None, expected: str) -> bool:
    # compare_digest on str refuses non-ASCII with TypeError; compare bytes instead.
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _require_type(request: Request, allowed: tuple[str, ...]) -> None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in allowed:
        raise HTTPException(415, f"the body must be {' or '.join(allowed)}")


async def _read_body(request: Request) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (chunked bodies too)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.strip().isascii() and declared.strip().isdigit()):
            raise HTTPException(400, "the Content-Length header is not a number")
        if int(declared) > MAX_BODY:
            raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes")
    return bytes(body)


async def okdesk_webhook(request: Request, state: State) -> dict[str, str]:
    """Okdesk tells us a ticket changed; a closure starts a survey."""
    given = request.query_params.get("token") or request.headers.get("x-webhook-token")
    if not _same_secret(given, state.settings.okdesk_webhook_token.get_secret_value()):
        raise HTTPException(401, "missing or wrong webhook token")
    _require_type(request, JSON_TYPES)
    body = await _read_body(request)
    payload = _json_object(body)
    event = payload.get("event")
    event_type = event.get("event_type") if isinstance(event, dict) else None
    if not isinstance(event_type, str):
        raise HTTPException(400, "event.event_type is required")
    if event_type != "new_ticket_status":
        return {"result": "ignored", "reason": f"event {event_type[:60]!r} is not a status change"}
    try:
        webhook = OkdeskWebhook.model_validate(payload)
    except ValidationError as exc:
        raise HTTPException(400, _describe(exc)) from None
    change = service.StatusChange(
        issue_id=webhook.issue.id,
        new_status=webhook.new_status,
        contact_id=webhook.contact_id,
        title=clean_text(webhook.issue.title, 1000),
        engineer=clean_text(webhook.engineer, 300),
    )
    decision = await asyncio.to_thread(
        service.record_status_change, state.engine, state.settings, change, state.clock()
    )
    log.info(
        "okdesk.webhook issue_id=%s status=%s result=%s",
        change.issue_id,
        change.new_status,
        decision,
    )
    state.wake_worker()
    return {"result": decision.value}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as exc:
        # JSONDecodeError, UnicodeDecodeError, and numbers past Python's digit limit.
        raise HTTPException(400, f"the body is not valid JSON: {str(exc)[:200]}") from None
    except RecursionError:
        raise HTTPException(400, "the body is nested too deeply") from None
    if not isinstance(payload, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return payload


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


async def bitrix_events(request: Request, state: State) -> dict[str, str]:
    """Bitrix24 tells the bot something happened: a click, a reply, a join, a removal."""
    settings = state.settings
    if not _same_secret(
        request.query_params.get("token"), settings.bitrix_events_token.get_secret_value()
    ):
        raise HTTPException(403, "missing or wrong events token")
    _require_type(request, FORM_TYPES)
    body = await _read_body(request)
    try:
        parsed = parse_event(body)
    except EventFormatError as exc:
        raise HTTPException(400, str(exc)) from None
    if not _same_secret(parsed.auth.application_token, settings.expected_application_token):
        # The URL token matched, so this is likely our portal with a mismatched setting.
        log.warning(
            "bitrix.event_refused reason=application_token event=%s: check "
            "BITRIX_APPLICATION_TOKEN / BITRIX_CLIENT_ID",
            parsed.name,
        )
        raise HTTPException(403, "the event's application token is not ours")
    if parsed.auth.domain.lower().split(":")[0] != settings.portal_domain:
        log.warning("bitrix.event_refused reason=domain event=%s", parsed.name)
        raise HTTPException(403, "the event comes from another portal")
    await asyncio.to_thread(_handle_events, state, parsed.events)
    state.wake_worker()
    return {"result": "ok"}


def _handle_events(state: App, events: tuple[object, ...]) -> None:
    now = state.clock()
    settings = state.settings
    for event in events:
        if isinstance(event, RatingClick):
            _handle_click(state, event, now)
        elif isinstance(event, ChatReply):
            _handle_reply(state, event, now)
        elif isinstance(event, BotJoined) and event.chat_type == "P" and event.dialog_id:
            service.queue_reply(
                state.engine, event.dialog_id, messages.text("welcome", settings.language), now
            )
        elif isinstance(event, BotDeleted):
            log.warning("bitrix.bot_deleted bot_id=%s: run python -m bot.register", event.bot_id)
            with transaction(state.engine) as session:
                queries.set_status(session, BOT_DELETED, now.isoformat(), now)


def _handle_click(state: App, click: RatingClick, now: datetime) -> None:
    button = parse_command_params(click.params)
    if click.command != RATE_COMMAND or button is None:
        log.info("bitrix.click_ignored command=%s", click.command[:40])
        return
    token, score = button
    answer = service.Answer(
        user_id=click.user_id, dialog_id=click.dialog_id, score=score, survey_token=token
    )
    outcome = service.record_answer(state.engine, state.settings, answer, now)
    log.info("bitrix.click user_id=%s score=%s result=%s", click.user_id, score, outcome)


def _handle_reply(state: App, reply: ChatReply, now: datetime) -> None:
    # Bots' messages and group chats are not answers to a survey.
    if reply.from_bot or reply.chat_type != "P" or not reply.dialog_id:
        return
    answer = service.Answer(
        user_id=reply.user_id,
        dialog_id=reply.dialog_id,
        score=parse_rating(reply.text),
        reply_text=clean_text(reply.text, 1000),
        replay_key=None if reply.message_id is None else f"bitrix:message:{reply.message_id}",
    )
    outcome = service.record_answer(state.engine, state.settings, answer, now)
    log.info("bitrix.reply user_id=%s result=%s", reply.user_id, outcome)


async def healthz(state: State) -> JSONResponse:
    """Whether the database answers, when the worker last ran, whether the bot still exists."""
    try:
        body = await asyncio.to_thread(_health, state.engine)
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse(body)


def _health(engine: Engine) -> dict[str, str | None]:
    ping(engine)
    with transaction(engine) as session:
        heartbeat = queries.get_status(session, "worker_heartbeat")
        deleted = queries.get_status(session, BOT_DELETED)
    return {
        "status": "degraded" if deleted else "ok",
        "database": "ok",
        "worker_last_run": heartbeat.value if heartbeat else None,
        "bot": f"deleted at {deleted.value}: run python -m bot.register" if deleted else "ok",
    }
