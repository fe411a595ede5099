"""The Bitrix24 events route: the bot's clicks, replies, joins and removal.

Thin: check the URL secret, read a bounded form body, refuse events from another portal or
installation, store what each event means, answer. Bitrix24 is never called from here; the
worker sends every reply.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from fastapi import APIRouter, HTTPException, Request

from bot.dialogs import names_someone_else
from bot.events import (
    BotDeleted,
    BotJoined,
    ChatReply,
    Event,
    ParsedEvent,
    RatingClick,
    parse_event,
)
from bot.origin import Refusal, refusal
from bot.portals.ids import ForeignIdError, scoped_event
from bot.texts.form import EventFormatError
from bot.texts.messages import RATE_COMMAND
from bot.texts.team import parse_take_params
from bridge.config.settings import Settings
from bridge.outside import bot_removal
from bridge.outside.portals import PortalView
from bridge.outside.priority import intake_accepted
from bridge.survey import languages
from bridge.survey.replies import answers, changes
from bridge.team import taking as team_taking
from bridge.web.installation import admits_for_portal
from bridge.web.intake import (
    BITRIX_MAX_BODY,
    BITRIX_OPENAPI,
    FORM_TYPES,
    known_secret,
    read_body,
    require_type,
)
from bridge.web.routes.state import App, State, refuse_while_placeholder

log = logging.getLogger(__name__)
router = APIRouter()

_REFUSED = {
    Refusal.APPLICATION_TOKEN: "the event's application token is not ours",
    Refusal.DOMAIN: "the event comes from another portal",
}


@router.post("/api/v1/bitrix/events", openapi_extra=BITRIX_OPENAPI)
async def bitrix_events(request: Request, state: State) -> dict[str, str]:
    """Bitrix24 tells the bot something happened: a click, a reply, a join, a removal."""
    if state.settings.bitrix_api == "v2" and not state.settings.bitrix_switching_from_v1:
        # Issue 23.3: with imbot.v2 the v1 route is a door nobody needs, unless configured.
        raise HTTPException(404, "imbot v1 is not in use (BITRIX_API=v2)")
    refuse_while_placeholder(state, "BITRIX_EVENTS_TOKEN")
    parsed = await read_event(request, state.settings)
    await asyncio.to_thread(handle_events, state, parsed)
    state.wake_worker()
    return {"result": "ok"}


async def read_event(request: Request, settings: Settings) -> ParsedEvent:
    """The event a portal's bot was sent, read as the route of the portal of `settings` reads
    it: its events secret (403), a bounded form body (415, 413, 400), its application token
    and domain (403). From then on the request counts as intake (the worker waits)."""
    if not known_secret(request.query_params.get("token"), settings.events_tokens):
        raise HTTPException(403, "missing or wrong events token")
    require_type(request, FORM_TYPES)
    body = await read_body(request, BITRIX_MAX_BODY)
    try:
        parsed = parse_event(body)
    except EventFormatError as exc:
        raise HTTPException(400, str(exc)) from None
    _refuse_another_portal(parsed, settings)
    intake_accepted(request)  # from now on the worker waits (bridge.outside.priority)
    return parsed


def _refuse_another_portal(parsed: ParsedEvent, settings: Settings) -> None:
    why = refusal(
        parsed.auth,
        application_token=settings.expected_application_token,
        portal_domain=settings.portal_domain,
    )
    if why is Refusal.APPLICATION_TOKEN:
        # The URL token matched, so this is likely our portal with a mismatched setting.
        log.warning(
            "bitrix.event_refused reason=application_token event=%s: check "
            "BITRIX_APPLICATION_TOKEN / BITRIX_CLIENT_ID",
            parsed.name,
        )
    elif why is Refusal.DOMAIN:
        log.warning("bitrix.event_refused reason=domain event=%s", parsed.name)
    if why is not None:
        raise HTTPException(403, _REFUSED[why])


def handle_events(
    state: App,
    parsed: ParsedEvent,
    *,
    may_lack_member: bool = False,
    portal: PortalView | None = None,
) -> None:
    """An authenticated request's events, from our portal's installation (`portal`: an added
    portal's, through its own route), stored."""
    if any(_speaks_for_someone_else(event) for event in parsed.events):
        log.warning("bitrix.event_refused reason=dialog event=%s", parsed.name)
        raise HTTPException(403, "a private chat's DIALOG_ID must be the person who wrote in it")
    # In the request's one worker thread: the installation check may write the database.
    admitted = (
        state.installation.admits(parsed.auth, may_lack=may_lack_member)
        if portal is None
        else admits_for_portal(state.engine, parsed.auth, portal, state.clock())
    )
    if not admitted:
        log.warning("bitrix.event_refused reason=member_id event=%s", parsed.name)
        raise HTTPException(403, "the event comes from another portal installation")
    now = state.clock()
    for event in parsed.events:
        handle_event(state, event, parsed.auth.access_token, now, portal)


def handle_event(
    state: App, event: Event, access_token: str, now: datetime, portal: PortalView | None = None
) -> None:
    """What one authentic event means, stored (posted to us, or fetched: imbot.v2); an added
    portal's ids are scoped by it first (`bot.portals.ids`)."""
    settings = state.settings
    if not state.ours(event, portal):
        log.warning("bitrix.event_ignored reason=another_bot event=%s", type(event).__name__)
        return
    if portal is not None:
        try:
            event = scoped_event(event, portal.number)
        except ForeignIdError:
            log.warning("bitrix.event_ignored reason=id_range event=%s", type(event).__name__)
            return
    if _speaks_for_someone_else(event):
        log.warning("bitrix.event_ignored reason=dialog event=%s", type(event).__name__)
        return
    if isinstance(event, RatingClick | ChatReply | BotJoined) and not getattr(
        event, "from_bot", False
    ):
        # Issue 10: the person's language, as their event shows it.
        languages.remember(state.engine, event.user_id, event.language, now)
    if isinstance(event, RatingClick):
        _handle_click(state, event, now)
    elif isinstance(event, ChatReply):
        _handle_reply(state, event, access_token, now)
    elif isinstance(event, BotJoined) and event.private and event.dialog_id.isdecimal():
        # The person opened the chat (a private dialog is its counterpart, bitrix24.md §4).
        language = languages.spoken(event.language) or settings.language
        answers.welcome(state.engine, settings, int(event.dialog_id), language, now)
    elif isinstance(event, BotDeleted):
        # Issue 23.10: anyone with the handler URL can say so; the worker asks the portal.
        number = 0 if portal is None else portal.number
        bot_removal.queue_check(state.engine, event.bot_id, now, number)


def _speaks_for_someone_else(event: Event) -> bool:
    """A private chat's event whose DIALOG_ID is not its sender: Bitrix24 sends none."""
    if isinstance(event, RatingClick | ChatReply | BotJoined):
        return names_someone_else(event.dialog_id, event.user_id, event.chat_type)
    return False


def _handle_click(state: App, click: RatingClick, now: datetime) -> None:
    if _handle_take(state, click, now):
        return
    button = click.button
    press = click.change_request
    if press is not None:
        result = changes.press_change(
            state.engine,
            state.settings,
            token=press.token,
            changes_made=press.changes_made,
            user_id=click.user_id,
            now=now,
        )
        log.info("bitrix.change_pressed user_id=%s result=%s", click.user_id, result)
        return
    if button is None:
        log.info("bitrix.click_ignored command=%s", click.command[:40])
        return
    token, score = button
    answer = answers.Answer(
        user_id=click.user_id,
        score=score,
        survey_token=token,
        replay_key=click.replay_key,
    )
    outcome = answers.record_answer(state.engine, state.settings, answer, now)
    log.info("bitrix.click user_id=%s score=%s result=%s", click.user_id, score, outcome)


def _handle_take(state: App, click: RatingClick, now: datetime) -> bool:
    """«Беру» under an alert in the team's chat (`bridge.team.taking`); False for any other."""
    survey_id = parse_take_params(click.params) if click.command == RATE_COMMAND else None
    if survey_id is None:
        return False
    team_taking.take(
        state.engine,
        state.settings,
        survey_id=survey_id,
        user_id=click.user_id,
        name=click.user_name,
        dialog_id=click.dialog_id,
        message_id=click.message_id,
        now=now,
    )
    return True


def _handle_reply(state: App, reply: ChatReply, access_token: str, now: datetime) -> None:
    # Bots' messages and group chats are not answers to a survey.
    if reply.from_bot or not reply.private or not reply.dialog_id:
        return
    answer = answers.Answer.typed(
        user_id=reply.user_id,
        text=reply.text,
        replay_key=reply.replay_key,
        access_token=access_token,
        # Only authenticated events reach here (URL secret, application token, domain,
        # member_id), and only from a private chat: with no token, the channel is the proof.
        channel_proven=True,
    )
    outcome = answers.record_answer(state.engine, state.settings, answer, now)
    log.info("bitrix.reply user_id=%s result=%s", reply.user_id, outcome)
