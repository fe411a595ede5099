"""The report page `/admin`, its CSV export and its retry button; registered only when
ADMIN_TOKEN is set (`bridge.report.html.guard` says who may use them)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.datastructures import QueryParams

from bridge.portals import directory, section
from bridge.report import export
from bridge.report.filters import Filters
from bridge.report.handling import handler_name, mark_handled
from bridge.report.html import guard
from bridge.report.html.page import Notice, render
from bridge.report.html.texts import period_error
from bridge.report.period import Period, PeriodError, parse_period
from bridge.report.read import read_report
from bridge.web.routes.state import App, State
from bridge.worker.retrying import retry_failed
from storage import seen
from storage.db import reading, transaction
from storage.reading import report as queries

log = logging.getLogger(__name__)
_NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Same-origin only: the form's Referer (its fallback proof of origin) still comes.
    "Referrer-Policy": "same-origin",
}
# No script, no remote anything: the page needs only its own inline style and form.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'"
EXPORT_BATCH = 1000


def _token(state: App) -> str:
    assert state.settings.admin_token is not None
    return state.settings.admin_token.get_secret_value()


def _admin(request: Request, state: State) -> App:
    address = request.client.host if request.client else "-"
    if state.admin_guesses.spent(address):
        raise HTTPException(
            429,
            "too many wrong ADMIN_TOKENs from this address: try again in a minute",
            headers={**_NO_STORE, "Retry-After": "60"},
        )
    given = request.headers.get("authorization")
    if not guard.authorized(given, _token(state)):
        if given:  # a browser's first request, before its login box, guesses nothing
            state.admin_guesses.allow(address)
        raise HTTPException(
            401,
            "the report needs ADMIN_TOKEN",
            headers={**_NO_STORE, "WWW-Authenticate": 'Basic realm="rating"'},
        )
    return state


Admin = Annotated[App, Depends(_admin)]
router = APIRouter(prefix="/admin", include_in_schema=False)


def _period(state: App, first: str | None, last: str | None) -> tuple[Period, str | None]:
    """The query's period, or the last 30 days and why the query's makes none (in the page's
    language)."""
    today = state.clock().date()
    try:
        return parse_period(first, last, today), None
    except PeriodError as exc:
        why = period_error(exc.key, exc.field, state.settings.language)
        return parse_period(None, None, today), why


def _count(value: str | None) -> int:
    # isdigit() is true for «²», which int() refuses (a 500 before).
    digits = value is not None and value.isascii() and value.isdigit() and len(value) < 9
    return int(value) if digits and value is not None else 0


@router.get("")
async def page(request: Request, state: Admin) -> HTMLResponse:
    """The report for `?from=&to=` (the last 30 days by default)."""
    notice = section.notice_of(request.query_params, state.settings.language)
    return await page_response(request, state, Said(notice=notice))


@dataclass(frozen=True)
class Said:
    """What the portals' section says after a form: done, or why not (what was typed kept)."""

    notice: str | None = None
    problem: str | None = None
    kept: dict[str, str] = field(default_factory=dict)


async def page_response(request: Request, state: App, said: Said) -> HTMLResponse:
    """The page, with the portals' section saying `said` (400 when either part refused)."""
    query = request.query_params
    period, problem = _period(state, query.get("from"), query.get("to"))
    max_score = state.settings.alert_max_score
    filters = Filters.of(query)
    report = await asyncio.to_thread(
        read_report, state.engine, period, filters=filters, max_score=max_score
    )
    lines = await asyncio.to_thread(directory.portal_lines, state.engine, state.settings)
    token = _token(state)
    language = state.settings.language
    portals = section.section(
        lines,
        form=lambda: guard.form_token(token),
        language=language,
        query=report.query(),
        notice=said.notice,
        problem=said.problem,
        kept=said.kept,
    )
    html = render(
        report,
        language=language,
        okdesk=state.settings.okdesk_url,
        form=lambda: guard.form_token(token),
        now=state.clock(),
        notice=_notice(query),
        problem=problem,
        portals=portals,
    )
    headers = {**_NO_STORE, "Content-Security-Policy": _CSP}
    refused = problem is not None or said.problem is not None
    return HTMLResponse(html, status_code=400 if refused else 200, headers=headers)


def _notice(query: QueryParams) -> Notice | None:
    if "handled" in query:
        return Notice(0, 0, marked=query.get("handled") == "1")
    if "queued" in query:
        return Notice(_count(query.get("queued")), _count(query.get("refused")))
    return None


async def posted_form(request: Request, state: App) -> dict[str, str] | PlainTextResponse:
    """The posted form's fields once it is proven ours, fresh and unused; else the refusal."""
    headers = request.headers
    ours = f"{request.url.scheme}://{headers.get('host', '')}"
    if not guard.same_origin(headers.get("origin"), headers.get("referer"), ours):
        return _refused("refused: the form must come from this page")
    # A few short fields: read by hand rather than add a multipart parser for them.
    posted = parse_qs((await request.body())[:2000].decode("utf-8", "replace"))
    form = {name: values[0] for name, values in posted.items()}
    nonce, csrf = form.get("nonce", ""), form.get("csrf", "")
    # A used form is remembered as a seen event, which the purge forgets after the retention.
    lifetime = min(guard.FORM_LIFETIME, state.settings.personal_data_retention.total_seconds())
    if not guard.form_valid(_token(state), nonce, csrf, lifetime=lifetime):
        return _refused("refused: the form is stale or forged, reload the page")
    if not await asyncio.to_thread(_spend, state, nonce):
        return _refused("refused: this form was already sent, reload the page")
    return form


def _spend(state: App, nonce: str) -> bool:
    """Mark a valid form as used, in the database every replica shares; False when it was."""
    with transaction(state.engine) as session:
        return seen.first_sighting(session, key=f"admin-form:{nonce}", now=state.clock())


def page_query(request: Request, state: App) -> str:
    """The page's period and filters, to go back to once a form is done."""
    query = request.query_params
    period, _ = _period(state, query.get("from"), query.get("to"))
    return period.query() + Filters.of(query).query()


@router.post("/retry")
async def retry(request: Request, state: Admin) -> Response:
    """Queue the failed jobs again, then back to the page (303) with how many were queued."""
    form = await posted_form(request, state)
    if isinstance(form, Response):
        return form
    queued, refused = await asyncio.to_thread(
        retry_failed, state.engine, state.settings, state.clock()
    )
    state.wake_worker()
    log.info("admin.retry_failed queued=%d refused=%d", queued, len(refused))
    back = page_query(request, state)
    target = f"/admin?{back}&queued={queued}&refused={len(refused)}"
    return RedirectResponse(target, status_code=303)


@router.post("/handled")
async def handled(request: Request, state: Admin) -> Response:
    """«Разобрано»: record who handled a low rating and when, then back to the page (303)."""
    form = await posted_form(request, state)
    if isinstance(form, Response):
        return form
    survey_id = _count(form.get("survey"))
    by = handler_name(form.get("by"))
    marked = await asyncio.to_thread(
        mark_handled, state.engine, state.settings, survey_id, by, state.clock()
    )
    log.info("admin.rating_handled survey_id=%d marked=%s", survey_id, marked)
    back = page_query(request, state)
    return RedirectResponse(f"/admin?{back}&handled={int(marked)}", status_code=303)


def _refused(text: str) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=403, headers=_NO_STORE)


@router.get("/export.csv")
async def export_csv(request: Request, state: Admin) -> Response:
    """Every survey of the period as CSV, streamed."""
    period, problem = _period(
        state, request.query_params.get("from"), request.query_params.get("to")
    )
    if problem:
        return PlainTextResponse(problem, status_code=400, headers=_NO_STORE)
    name = f"ratings-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return StreamingResponse(
        export.lines(
            _batches(state, period, Filters.of(request.query_params)), state.settings.language
        ),
        media_type="text/csv; charset=utf-8",
        headers={**_NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'},
    )


def _batches(state: App, period: Period, filters: Filters) -> Iterator[list[tuple[Any, ...]]]:
    after: tuple[datetime, int] | None = None
    while True:
        with reading(state.engine) as session:
            rows, after = queries.export_batch(
                session,
                start=period.start,
                end=period.end,
                where=filters.conditions(),
                after=after,
                limit=EXPORT_BATCH,
            )
            rows = export.with_words(session, rows)
        yield rows
        if after is None:
            return
