"""The /admin page's portal forms: connect a portal, map or unmap a company, remove a portal
(README, "Several portals"). Each is a one-use POST from the page, as its other forms; done,
it goes back to the page (303) with a notice; refused, the page says why in one line (400),
with what was typed kept, never the webhook's URL.

The work is `bridge.portals`, the same as `python -m bridge.admin portal`. It runs in a
thread of its own (its database writes and Bitrix24's answers never hold the event loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bridge.portals import connect, directory
from bridge.portals.texts import PortalError
from bridge.web.routes.admin import Admin, Said, page_query, page_response, posted_form
from bridge.web.routes.state import App

log = logging.getLogger(__name__)
router = APIRouter(prefix="/admin/portals", include_in_schema=False)
T = TypeVar("T")


def _http(state: App) -> httpx.AsyncClient:
    """A client for Bitrix24 (redirects never followed: `bridge.outside.vendors`)."""
    timeout = state.settings.http_timeout.total_seconds()
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False)


async def _apart(work: Callable[[], Awaitable[T]]) -> T:
    """`work` run to its end on an event loop in a thread of its own."""
    return await asyncio.to_thread(lambda: asyncio.run(_awaited(work)))


async def _awaited(work: Callable[[], Awaitable[T]]) -> T:
    return await work()


def _company(value: str | None) -> int:
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit() and 0 < len(text) < 19) or int(text) == 0:
        raise PortalError("bad_company", usage=True)
    return int(text)


def _back(request: Request, state: App, **done: object) -> RedirectResponse:
    said = urlencode({k: str(v) for k, v in done.items()})
    target = f"/admin?{page_query(request, state)}&{said}#portals"
    return RedirectResponse(target, status_code=303)


async def _refused(
    request: Request, state: App, exc: PortalError, kept: dict[str, str], secret: str = ""
) -> Response:
    problem = exc.said(state.settings.language)
    for part in (secret, *urlsplit(secret).path.split("/")):
        if len(part) >= 8:  # the webhook's code (and the URL), should a vendor quote them
            problem = problem.replace(part, "***")
    log.info("admin.portal_refused form=%s why=%s", kept.get("form"), exc.key)
    return await page_response(request, state, Said(problem=problem, kept=kept))


@router.post("/add")
async def add(request: Request, state: Admin) -> Response:
    """Connect a portal by its webhook: checked, its bot registered, stored (or updated)."""
    form = await posted_form(request, state)
    if isinstance(form, Response):
        return form
    name, url = form.get("name", "").strip(), form.get("webhook_url", "").strip()
    api, member = form.get("api", "").strip() or "v1", form.get("member_id", "").strip()

    async def adding() -> connect.Added:
        async with _http(state) as http:
            return await connect.add(
                state.engine,
                state.settings,
                http,
                name=name,
                url=url,
                api=api,
                member_id=member or None,
                clock=state.clock,
            )

    try:
        done = await _apart(adding)
    except PortalError as exc:
        kept = {"form": "add", "name": name, "api": api, "member_id": member}
        return await _refused(request, state, exc, kept, secret=url)
    log.info("admin.portal_added portal=%d bot_id=%d", done.portal.id, done.bot_id)
    return _back(request, state, done="added", name=name, bot=done.bot_id)


@router.post("/map")
async def map_company(request: Request, state: Admin) -> Response:
    """Ask a company's people in the portal named."""
    form = await posted_form(request, state)
    if isinstance(form, Response):
        return form
    name = form.get("name", "").strip()
    kept = {"form": "map", "name": name, "company": form.get("company", "")}
    try:
        company = _company(form.get("company"))
        await asyncio.to_thread(
            lambda: directory.map_company(state.engine, company_id=company, name=name)
        )
    except PortalError as exc:
        return await _refused(request, state, exc, kept)
    log.info("admin.company_mapped company=%d", company)
    return _back(request, state, done="mapped", name=name, company=company)


@router.post("/unmap")
async def unmap_company(request: Request, state: Admin) -> Response:
    """Forget a company's portal (its closures go to `default`, if there is one)."""
    form = await posted_form(request, state)
    if isinstance(form, Response):
        return form
    kept = {"form": "unmap", "company": form.get("company", "")}
    try:
        company = _company(form.get("company"))
        await asyncio.to_thread(lambda: directory.unmap_company(state.engine, company_id=company))
    except PortalError as exc:
        return await _refused(request, state, exc, kept)
    log.info("admin.company_unmapped company=%d", company)
    return _back(request, state, done="unmapped", company=company)


@router.post("/remove")
async def remove(request: Request, state: Admin) -> Response:
    """Remove a portal once its name is typed again: bot unregistered, waiting surveys
    cancelled, history kept."""
    form = await posted_form(request, state)
    if isinstance(form, Response):
        return form
    name = form.get("name", "").strip()

    async def removing() -> connect.Removed:
        if form.get("confirm", "").strip() != name:
            raise PortalError("not_confirmed", usage=True, name=name)
        async with _http(state) as http:
            return await connect.remove(
                state.engine, state.settings, http, name=name, clock=state.clock
            )

    try:
        done = await _apart(removing)
    except PortalError as exc:
        return await _refused(request, state, exc, {"form": "remove", "name": name})
    log.info("admin.portal_removed cancelled=%d", done.cancelled)
    unregistered = int(done.unregister_failed is None)
    return _back(
        request,
        state,
        done="removed",
        name=name,
        cancelled=done.cancelled,
        unregistered=unregistered,
    )
