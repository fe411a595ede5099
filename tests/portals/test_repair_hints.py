"""What the operator is told to run when a portal's bot is gone: `python -m bot.register` for
the settings' own portal, and for an added one `portal add` again, naming that portal (and its
API: a portal added again on another API is refused). `bot.register` re-registers only the
settings' portal, so it is never the advice for an added one."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.messenger import ChatMessage
from bot.portals.ids import scoped
from bot.portals.messengers import PortalMessengers
from bridge.outside.portals import ensure_default
from bridge.outside.vendors import open_vendors
from bridge.web.health import readiness
from storage import portals
from storage.db import transaction
from storage.portals import PortalState
from storage.tables import utcnow
from tests.portals.rows import keyed_settings, store_portal

pytestmark = pytest.mark.anyio

ADD_AGAIN = "python -m bridge.admin portal add"


def _no_bot_anywhere(request: httpx.Request) -> httpx.Response:
    """Every portal: no bot of ours (v1 lists none and refuses a known id with BOT_ID_ERROR;
    v2's Bot.get says BOT_NOT_FOUND)."""
    method = request.url.path.rsplit("/", 1)[-1].lower()
    if method == "imbot.v2.bot.get":
        missing = {"error": "BOT_NOT_FOUND", "error_description": "no such bot"}
        return httpx.Response(400, json=missing)
    gone = {"error": "BOT_ID_ERROR", "error_description": "Bot not found"}
    if method == "imbot.message.add":
        return httpx.Response(400, json=gone)
    if method == "batch":  # messages sent at about the same time share one
        cmd = json.loads(request.content)["cmd"]
        return httpx.Response(200, json={"result": {"result_error": dict.fromkeys(cmd, gone)}})
    return httpx.Response(200, json={"result": []})


async def _said_on_sending(messenger: PortalMessengers, portal: int) -> str:
    """What sending to a person of `portal` raises while the portal has no bot of ours."""
    with pytest.raises(Exception) as caught:
        await messenger.send(str(scoped(portal, 27)), ChatMessage("Оцените заявку"))
    return str(caught.value)


async def test_an_added_portals_missing_bot_names_portal_add_for_that_portal(
    database_url: str, engine: Engine
) -> None:
    settings = keyed_settings(database_url)
    store_portal(engine, settings, 1, "acme", utcnow())
    store_portal(engine, settings, 2, "beta", utcnow(), api="v2")
    store_portal(engine, settings, 3, "gamma", utcnow(), bot_id=567)  # its bot id known
    transport = httpx.MockTransport(_no_bot_anywhere)
    async with open_vendors(settings, engine, transport) as vendors:
        assert isinstance(vendors.messenger, PortalMessengers)
        home = await _said_on_sending(vendors.messenger, 0)
        acme = await _said_on_sending(vendors.messenger, 1)
        beta = await _said_on_sending(vendors.messenger, 2)
        gamma = await _said_on_sending(vendors.messenger, 3)
    assert home == "no Bitrix24 bot with code 'okdesk_rating': run python -m bot.register"
    assert (
        acme == f"no Bitrix24 bot with code 'okdesk_rating': run {ADD_AGAIN} acme <its webhook URL>"
    )
    assert f"run {ADD_AGAIN} beta <its webhook URL> --api v2; invitations wait" in beta
    assert f"is gone: run {ADD_AGAIN} gamma <its webhook URL>; invitations wait" in gamma
    assert "bot.register" not in acme + beta + gamma


async def test_readiness_names_the_step_for_each_portal_whose_bot_was_deleted(
    database_url: str, engine: Engine
) -> None:
    settings = keyed_settings(database_url)
    now = utcnow()
    store_portal(engine, settings, 2, "beta", now, api="v2")
    ensure_default(engine, settings, now)
    with transaction(engine) as session:
        for number in (0, 2):
            portals.set_state(session, number=number, state=PortalState.BOT_DELETED, now=now)
    body = bytes((await readiness(engine, settings, None)).body).decode()
    assert "run python -m bot.register" in body  # the settings' own portal: 503
    assert f"portal beta: its bot was deleted: run {ADD_AGAIN} beta" in body
    assert "--api v2 again" in body
