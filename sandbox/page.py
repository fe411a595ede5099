"""The sandbox's one page, served by the sandbox process: it reads the fakes' state, and its
buttons act as people would (an engineer closing a ticket in Okdesk, a person pressing a rating
button or writing to the bot in Bitrix24); the fakes then call the service as the vendors do.

On imbot v1 a person's click or message is posted by the fake portal to the service at once; on
imbot.v2 (fetch mode) the portal queues it and the service fetches it (`/_fake/v2/click`,
`/_fake/v2/type`).

Forms work without JavaScript (POST, then a redirect back); with it, the page posts them in the
background and redraws its panels every second.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bridge.config.durations import parse_duration
from sandbox.admin_proxy import admin_page
from sandbox.render import Knobs, chat_log, log_panel, people_tabs, person_of, tickets_panel
from sandbox.run import Sandbox
from sandbox.skeleton import page_html
from sandbox.texts import Lang, language, text
from sandbox.world import person_of_ticket
from storage.db import create_db_engine
from storage.tables import Survey

STATIC = Path(__file__).parent / "static"
Form = dict[str, str]


def survey_states(engine: Engine) -> dict[int, str]:
    """Each ticket's latest survey state in the service's database."""
    with Session(engine) as session:
        rows = session.exec(select(Survey.issue_id, Survey.state).order_by(col(Survey.id))).all()
    return {int(issue_id): str(state) for issue_id, state in rows}


class Console:
    """What the page does: read the fakes and act in them, over their control routes."""

    def __init__(self, sandbox: Sandbox, client: httpx.AsyncClient, engine: Engine) -> None:
        assert sandbox.fakes is not None
        self.sandbox = sandbox
        self.fakes = sandbox.fakes
        self.client = client
        self.engine = engine
        self.api = sandbox.api
        self.knobs = Knobs(rating_timeout=sandbox.rating_timeout)
        self.bot_language: Lang = "ru"

    async def state(self, which: str) -> dict[str, Any]:
        """One fake's public state."""
        answer = await self.client.get(f"{self.fakes.base(which)}/_fake/state")
        return dict(answer.json())

    async def act(self, which: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to one fake's control route; its JSON answer."""
        answer = await self.client.post(f"{self.fakes.base(which)}/_fake/{route}", json=body)
        answer.raise_for_status()
        return dict(answer.json())

    async def press(self, who: int, body: dict[str, Any], lang: Lang) -> str:
        """The person `who` presses a button (`message_id`, `button`) in their portal; a note."""
        person = person_of(who)
        body = {**body, "user_id": person.user_id}
        if self.api == "v2":
            await self.act("bitrix", "v2/click", body)
            return text("event_queued", lang, event="ONIMBOTV2COMMANDADD")
        return _sent(await self.act(person.fake, "press", body), lang, "ONIMCOMMANDADD")

    async def write(self, who: int, message: str, lang: Lang) -> str:
        """The person `who` writes to the bot in their portal; a note."""
        person = person_of(who)
        user_id = person.user_id
        if self.api == "v1":
            body = {"user_id": user_id, "text": message}
            return _sent(await self.act(person.fake, "write", body), lang, "ONIMBOTMESSAGEADD")
        bots = (await self.state("bitrix")).get("bots", {}).values()
        bot_id = next((bot["ID"] for bot in bots if bot.get("API") == "v2"), None)
        if bot_id is None:
            return text("not_sent", lang)
        body = {"bot_id": bot_id, "user_id": user_id, "text": message}
        await self.act("bitrix", "v2/type", body)
        return text("event_queued", lang, event="ONIMBOTV2MESSAGEADD")

    async def speak(self, lang: Lang) -> None:
        """Make the bot speak the page's language: the portal's events say it, and the service
        (restarted with LANGUAGE) writes its messages and Okdesk comments in it."""
        if lang == self.bot_language:
            return
        if self.api == "v1":
            await self.act("bitrix", "language", {"language": lang})
        await asyncio.to_thread(partial(self.sandbox.restart_service, LANGUAGE=lang))
        self.bot_language = lang

    async def panels(self, who: int, lang: Lang) -> dict[str, str]:
        """The parts of the page that change: tickets, the chat and the service's log."""
        portal = person_of(who).fake
        okdesk, bitrix = await asyncio.gather(self.state("okdesk"), self.state(portal))
        surveys = await asyncio.to_thread(survey_states, self.engine)
        return {
            "tickets": tickets_panel(okdesk, surveys, lang),
            "chat-log": chat_log(bitrix, who, lang),
            "log": log_panel(self.sandbox.log_tail()),
        }

    async def apply(self, form: Form, lang: Lang) -> str:
        """Set the knobs from the form; what happened, as a note for the page."""
        try:
            knobs = Knobs(
                latency_ms=max(int(form.get("latency_ms", "0") or 0), 0),
                error_percent=min(max(int(form.get("error_percent", "0") or 0), 0), 100),
                rate_limit=form.get("rate_limit") == "on",
                burst=max(int(form.get("burst", "50") or 50), 1),
                per_second=max(float(form.get("per_second", "2") or 2), 0.01),
                rating_timeout=form.get("rating_timeout", self.knobs.rating_timeout).strip(),
            )
            parse_duration(knobs.rating_timeout)
        except ValueError:
            return text("bad_knob", lang, name=text("knobs", lang))
        for which in ("okdesk", "bitrix"):
            await self.act(which, "latency", {"latency": knobs.latency_ms / 1000})
            await self.act(which, "errors", {"rate": knobs.error_percent / 100})
        limit = {"enabled": knobs.rate_limit, "burst": knobs.burst}
        await self.act("bitrix", "rate_limit", {**limit, "drain_per_second": knobs.per_second})
        note = text("applied", lang)
        if knobs.rating_timeout != self.knobs.rating_timeout:
            restart = partial(self.sandbox.restart_service, RATING_TIMEOUT=knobs.rating_timeout)
            await asyncio.to_thread(restart)
            note = text("restarted", lang, timeout=knobs.rating_timeout)
        self.knobs = knobs
        return note


def _sent(answer: dict[str, Any], lang: Lang, event: str | None = None) -> str:
    """A note saying what the fake sent and how the service answered."""
    if not answer.get("delivered"):
        return text("not_sent", lang)
    status = answer.get("status") or "—"
    if event is None:
        return text("closed_sent", lang, status=status)
    return text("event_sent", lang, event=event, status=status)


async def _form(request: Request) -> Form:
    """An url-encoded form body (the page's forms post nothing else)."""
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


def _who(value: str | None) -> int:
    """The person whose chat is shown."""
    return person_of(int(value) if value and value.isdigit() else 0).key


def _done(request: Request, form: Form, note: str, who: int | None = None) -> Response:
    """JSON for the page's script; a redirect back to the page for a plain form post (to
    `who`'s chat when the action concerns another person)."""
    if request.headers.get("x-sandbox") == "fetch":
        return JSONResponse({"note": note, "who": who})
    shown = who if who is not None else _who(form.get("who"))
    query = urlencode({"who": shown, "lang": language(form.get("lang"))})
    return RedirectResponse(f"/?{query}", 303)


def _console(request: Request) -> Console:
    """The page's console, kept on the app."""
    console: Console = request.app.state.console
    return console


async def home(request: Request) -> Response:
    """The whole page."""
    console = _console(request)
    lang = language(request.query_params.get("lang"))
    who = _who(request.query_params.get("who"))
    await console.speak(lang)
    panels = await console.panels(who, lang)
    tabs = people_tabs(who, lang, console.sandbox.portals)
    css, script = request.app.state.assets
    page = page_html(panels, tabs, console.knobs, who, lang, css, script, console.api)
    return HTMLResponse(page)


async def panels(request: Request) -> Response:
    """The changing parts, as JSON {element id: inner HTML}."""
    lang = language(request.query_params.get("lang"))
    who = _who(request.query_params.get("who"))
    return JSONResponse(await _console(request).panels(who, lang))


async def _status(request: Request, code: str) -> tuple[Form, dict[str, Any]]:
    """An engineer moves a ticket to `code` in Okdesk, which posts its webhook."""
    form = await _form(request)
    body = {"issue_id": int(form.get("issue_id", "0") or 0), "code": code}
    return form, await _console(request).act("okdesk", "status", body)


async def close(request: Request) -> Response:
    """«Закрыть»: the page then shows the chat of the person the invitation goes to."""
    form, answer = await _status(request, "closed")
    lang = language(form.get("lang"))
    person = person_of_ticket(int(form.get("issue_id", "0") or 0))
    if person is None or not answer.get("delivered"):
        return _done(request, form, _sent(answer, lang))
    note = text("invited_in", lang, status=answer.get("status") or "—", name=person.name)
    return _done(request, form, note, person.key)


async def reopen(request: Request) -> Response:
    """«Открыть снова»."""
    form, answer = await _status(request, "opened")
    return _done(request, form, _sent(answer, language(form.get("lang"))))


async def press(request: Request) -> Response:
    """The person presses a button under a bot message."""
    form = await _form(request)
    body = {"message_id": int(form.get("message_id", "0") or 0)}
    body.update(button=int(form.get("button", "0") or 0))
    pressed = _console(request).press(_who(form.get("who")), body, language(form.get("lang")))
    return _done(request, form, await pressed)


async def write(request: Request) -> Response:
    """The person writes to the bot."""
    form = await _form(request)
    message = form.get("text", "").strip()
    if not message:
        return _done(request, form, "")
    note = await _console(request).write(_who(form.get("who")), message, language(form.get("lang")))
    return _done(request, form, note)


async def knobs(request: Request) -> Response:
    """The knobs form."""
    form = await _form(request)
    return _done(request, form, await _console(request).apply(form, language(form.get("lang"))))


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/panels", panels, methods=["GET"]),
    Route("/close", close, methods=["POST"]),
    Route("/reopen", reopen, methods=["POST"]),
    Route("/press", press, methods=["POST"]),
    Route("/write", write, methods=["POST"]),
    Route("/knobs", knobs, methods=["POST"]),
    Route("/admin", admin_page, methods=["GET", "POST"]),
    Route("/admin/{path:path}", admin_page, methods=["GET", "POST"]),
]


def create_page(sandbox: Sandbox) -> Starlette:
    """The page's app, over a started sandbox."""
    css = (STATIC / "page.css").read_text(encoding="utf-8")
    script = (STATIC / "page.js").read_text(encoding="utf-8")
    engine = create_db_engine(sandbox.database_url, pool_size=1)
    console = Console(sandbox, httpx.AsyncClient(timeout=30), engine)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await console.client.aclose()
            engine.dispose()

    app = Starlette(routes=ROUTES, lifespan=lifespan)
    app.state.console = console
    app.state.assets = (css, script)
    return app
