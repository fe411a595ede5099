"""The web app: the Okdesk webhook, the Bitrix24 events endpoint, health and readiness.

Routes are thin: check the secret, read a bounded body, parse it, store the outcome and queued
work in one transaction, answer. No route calls Okdesk or Bitrix24; the worker does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from bot import messages
from bot.events import (
    BotDeleted,
    BotJoined,
    ChatReply,
    Event,
    EventFormatError,
    ParsedEvent,
    RatingClick,
    addressed_to,
    parse_event,
)
from bot.messages import RATE_COMMAND, parse_command_params
from bot.messenger import Messenger
from bot.replies import ReplyKind, read_reply
from bridge import answers, closures, health
from bridge.intake import (
    BITRIX_MAX_BODY,
    BITRIX_OPENAPI,
    FORM_TYPES,
    JSON_TYPES,
    OKDESK_MAX_BODY,
    OKDESK_OPENAPI,
    SenderLimit,
    describe,
    json_object,
    read_body,
    require_type,
    same_secret,
)
from bridge.logs import install_redaction
from bridge.okdesk.data import OkdeskWebhook, clean_text
from bridge.server import install_limits, limits_of
from bridge.settings import Settings
from bridge.vendors import open_vendors
from bridge.worker import Worker
from storage import status, surveys
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.status import StatusKey
from storage.tables import utcnow

log = logging.getLogger(__name__)
MEMBER_KEY = StatusKey.BITRIX_MEMBER_ID


class App:
    """What the routes need, built once in the lifespan."""

    def __init__(self, settings: Settings, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.worker: Worker | None = None
        self.chat: Messenger | None = None
        self.senders = SenderLimit(settings.webhook_surveys_per_minute)
        self.member_id = settings.bitrix_member_id
        # Settings do not change while the app runs: checked once, not on every request.
        self.placeholders = frozenset(settings.placeholders())

    def ours(self, event: Event) -> bool:
        """Whether an event is for our bot (by id once known, else by code)."""
        known = self.chat.known_bot_id() if self.chat is not None else None
        return addressed_to(
            event, known or self.settings.bitrix_bot_id, self.settings.bitrix_bot_code
        )

    def our_portal(self, member_id: str, events: tuple[Event, ...]) -> bool:
        """Whether an event's `auth[member_id]` is our portal installation's.

        Configured, or else learned from the first event that proves it comes from our portal:
        a click on a button we sent (it carries a survey's unguessable token, and names that
        survey's person). The handler URL and the application token alone (both visible in that
        URL) never decide it. Until it is learned, events pass on the other checks.
        """
        if not member_id:
            return False
        if self.member_id is None:
            self.member_id = self._learn_member(member_id, events)
            if self.member_id is None:
                return True
        return same_secret(member_id, self.member_id)

    def _learn_member(self, member_id: str, events: tuple[Event, ...]) -> str | None:
        with transaction(self.engine) as session:
            stored = status.get_status(session, key=MEMBER_KEY)
            if stored is not None:
                return stored.value
            if not any(_proves_portal(session, event) for event in events):
                return None
            log.info("bitrix.member_id_pinned member_id=%s", member_id[:64])
            return status.first_status(
                session, key=MEMBER_KEY, value=member_id[:64], now=self.clock()
            )

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
                state.chat = vendors.messenger
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
        # The schema describes the intake routes for schema-driven tests; public only if asked.
        openapi_url="/openapi.json" if settings.openapi_enabled else None,
        # A redirect would repeat the secret ?token= in its Location and echo the Host header.
        redirect_slashes=False,
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
    app.add_api_route("/healthz", healthz, methods=["GET", "HEAD"])
    app.add_api_route("/readyz", readyz, methods=["GET", "HEAD"])
    app.add_exception_handler(SQLAlchemyError, _storage_unavailable)
    install_limits(app, limits_of(settings))
    return app


def _state(request: Request) -> App:
    state: App = request.app.state.bridge
    return state


State = Annotated[App, Depends(_state)]


async def _storage_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    # Nothing was committed: a 503 tells the sender to deliver again.
    log.error("storage.unavailable error=%s", type(exc).__name__)
    return JSONResponse({"detail": "storage is unavailable, try again later"}, status_code=503)


async def okdesk_webhook(request: Request, state: State) -> dict[str, str]:
    """Okdesk tells us a ticket changed; a closure starts a survey."""
    _refuse_while_placeholder(state, "OKDESK_WEBHOOK_TOKEN")
    given = request.query_params.get("token") or request.headers.get("x-webhook-token")
    if not same_secret(given, state.settings.okdesk_webhook_token.get_secret_value()):
        raise HTTPException(401, "missing or wrong webhook token")
    require_type(request, JSON_TYPES)
    payload = json_object(await read_body(request, OKDESK_MAX_BODY))
    event = payload.get("event")
    event_type = event.get("event_type") if isinstance(event, dict) else None
    if not isinstance(event_type, str):
        raise HTTPException(400, "event.event_type is required")
    if event_type != "new_ticket_status":
        return {"result": "ignored", "reason": f"event {event_type[:60]!r} is not a status change"}
    try:
        webhook = OkdeskWebhook.model_validate(payload)
    except ValidationError as exc:
        raise HTTPException(400, describe(exc)) from None
    change = closures.StatusChange(
        issue_id=webhook.issue.id,
        new_status=webhook.new_status,
        contact_id=webhook.contact_id,
        title=clean_text(webhook.issue.title, 1000),
        engineer=clean_text(webhook.engineer, 300),
    )
    if change.new_status in state.settings.okdesk_trigger_statuses and not state.senders.allow(
        request.client.host if request.client else "unknown"
    ):
        log.warning("okdesk.webhook_throttled issue_id=%s", change.issue_id)
        raise HTTPException(
            429,
            "too many closures from this sender: reconciliation will pick up genuine ones",
            headers={"Retry-After": "60"},
        )
    decision = await asyncio.to_thread(
        closures.record_status_change, state.engine, state.settings, change, state.clock()
    )
    log.info(
        "okdesk.webhook issue_id=%s status=%s result=%s",
        change.issue_id,
        change.new_status,
        decision,
    )
    state.wake_worker()
    return {"result": decision.value}


async def bitrix_events(request: Request, state: State) -> dict[str, str]:
    """Bitrix24 tells the bot something happened: a click, a reply, a join, a removal."""
    settings = state.settings
    _refuse_while_placeholder(state, "BITRIX_EVENTS_TOKEN")
    if not same_secret(
        request.query_params.get("token"), settings.bitrix_events_token.get_secret_value()
    ):
        raise HTTPException(403, "missing or wrong events token")
    require_type(request, FORM_TYPES)
    body = await read_body(request, BITRIX_MAX_BODY)
    try:
        parsed = parse_event(body)
    except EventFormatError as exc:
        raise HTTPException(400, str(exc)) from None
    if not same_secret(parsed.auth.application_token, settings.expected_application_token):
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
    await asyncio.to_thread(_handle_events, state, parsed)
    state.wake_worker()
    return {"result": "ok"}


def _handle_events(state: App, parsed: ParsedEvent) -> None:
    # In the request's one worker thread: the installation check may read the database.
    if not state.our_portal(parsed.auth.member_id, parsed.events):
        log.warning("bitrix.event_refused reason=member_id event=%s", parsed.name)
        raise HTTPException(403, "the event comes from another portal installation")
    now = state.clock()
    settings = state.settings
    for event in parsed.events:
        if not state.ours(event):
            log.warning("bitrix.event_ignored reason=another_bot event=%s", type(event).__name__)
            continue
        if isinstance(event, RatingClick):
            _handle_click(state, event, now)
        elif isinstance(event, ChatReply):
            _handle_reply(state, event, parsed.auth.access_token, now)
        elif isinstance(event, BotJoined) and event.chat_type == "P" and event.dialog_id:
            text = messages.text("welcome", settings.language)
            answers.queue_reply(state.engine, settings, event.dialog_id, text, now)
        elif isinstance(event, BotDeleted):
            log.warning("bitrix.bot_deleted bot_id=%s: run python -m bot.register", event.bot_id)
            with transaction(state.engine) as session:
                status.set_status(
                    session, key=StatusKey.BOT_DELETED, value=now.isoformat(), now=now
                )


def _handle_click(state: App, click: RatingClick, now: datetime) -> None:
    button = parse_command_params(click.params)
    if click.command != RATE_COMMAND or button is None:
        log.info("bitrix.click_ignored command=%s", click.command[:40])
        return
    token, score = button
    answer = answers.Answer(
        user_id=click.user_id, dialog_id=click.dialog_id, score=score, survey_token=token
    )
    outcome = answers.record_answer(state.engine, state.settings, answer, now)
    log.info("bitrix.click user_id=%s score=%s result=%s", click.user_id, score, outcome)


def _handle_reply(state: App, reply: ChatReply, access_token: str, now: datetime) -> None:
    # Bots' messages and group chats are not answers to a survey.
    if reply.from_bot or reply.chat_type != "P" or not reply.dialog_id:
        return
    reading = read_reply(reply.text)
    answer = answers.Answer(
        user_id=reply.user_id,
        dialog_id=reply.dialog_id,
        score=reading.score if reading.kind is not ReplyKind.OTHER else None,
        reply_text=clean_text(reply.text, 1000),
        replay_key=None if reply.message_id is None else f"bitrix:message:{reply.message_id}",
        doubtful=reading.kind is ReplyKind.DOUBTFUL,
        access_token=access_token or None,
    )
    outcome = answers.record_answer(state.engine, state.settings, answer, now)
    log.info("bitrix.reply user_id=%s result=%s", reply.user_id, outcome)


def _proves_portal(session: Session, event: Event) -> bool:
    """A click on one of our buttons, by the person the survey was sent to."""
    button = parse_command_params(event.params) if isinstance(event, RatingClick) else None
    if not isinstance(event, RatingClick) or button is None:
        return False
    survey = surveys.survey_by_token(session, token=button[0])
    return survey is not None and survey.bitrix_user_id == event.user_id


def _refuse_while_placeholder(state: App, name: str) -> None:
    # The example token is public: while it is set, the endpoint accepts nothing at all.
    if name in state.placeholders:
        raise HTTPException(503, f"{name} still holds the example value: set it and restart")


async def healthz(state: State) -> JSONResponse:
    """Liveness: the process answers and the database is reachable."""
    return await health.liveness(state.engine)


async def readyz(state: State) -> JSONResponse:
    """Readiness: the service is doing its job (worker, bot, portal, settings), with reasons."""
    return await health.readiness(state.engine, state.settings, state.worker)
