"""A renamed portal answers a 302 to its new domain (bitrix24-portals.md §3): the service follows
one such redirect, only to an https `*.bitrix24.*` host at the same path, then asks the new host
directly, and an added portal's stored domain and webhook follow. Any other redirect is still a
failure, never followed."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.engine import Engine
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bridge.outside.portals import context, opened, renamed
from bridge.outside.renamed import new_host
from harness.app import running_app
from harness.payloads import closed_webhook
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage import portals
from storage.db import transaction
from storage.migrate import upgrade
from storage.portals import Portal, PortalState
from storage.tables import SurveyState, utcnow
from tests.outages.queue import invited, survey_state

OLD, NEW = "acme.bitrix24.ru", "acme-renamed.bitrix24.ru"
WEBHOOK = "https://acme.bitrix24.ru/rest/1/hooktoken/"


@dataclass
class Renamed:
    """The portal at its old domain: every request answered with a redirect to the new one."""

    location: str
    redirected: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.redirected += 1
        target = self.location + scope["path"]
        await RedirectResponse(target, status_code=302)(scope, receive, send)


@dataclass
class Counted:
    """The portal at its new domain, counting what it is asked."""

    app: ASGIApp
    asked: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.asked += 1
        await self.app(scope, receive, send)


@pytest.mark.anyio
async def test_the_settings_portal_renamed_is_followed_once_and_then_asked_directly(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    old = Renamed(f"https://{NEW}")
    new = Counted(vendors.bitrix.app)
    vendors.transport.routes[OLD] = httpx.ASGITransport(app=old)
    vendors.transport.routes[NEW] = httpx.ASGITransport(app=new)
    async with running_app(make_settings(database_url), vendors) as app:
        await invited(app, engine)
    assert survey_state(engine) == SurveyState.AWAITING
    assert old.redirected == 1 and new.asked >= 2
    assert len(vendors.bitrix.messages) == 1


@pytest.mark.anyio
async def test_a_redirect_elsewhere_than_the_same_webhook_on_bitrix24_is_not_followed(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    old = Renamed(f"https://{NEW}/rest/1/othercode")
    new = Counted(vendors.bitrix.app)
    vendors.transport.routes[OLD] = httpx.ASGITransport(app=old)
    vendors.transport.routes[NEW] = httpx.ASGITransport(app=new)
    async with running_app(make_settings(database_url), vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: survey_state(engine) == SurveyState.FAILED)
    assert new.asked == 0 and vendors.bitrix.messages == {}


@pytest.mark.parametrize(
    ("location", "followed"),
    [
        ("https://acme-renamed.bitrix24.ru/rest/1/code/user.get", "acme-renamed.bitrix24.ru"),
        ("https://new.bitrix24.com.br/rest/1/code/user.get", "new.bitrix24.com.br"),
        ("http://acme-renamed.bitrix24.ru/rest/1/code/user.get", None),
        ("https://acme-renamed.bitrix24.ru:8443/rest/1/code/user.get", None),
        ("https://acme-renamed.bitrix24.ru/rest/1/other/user.get", None),
        ("https://evil.example/rest/1/code/user.get", None),
        ("https://bitrix24.ru.evil.example/rest/1/code/user.get", None),
        ("https://acme.bitrix24.ru.evil.example/rest/1/code/user.get", None),
        ("/rest/1/code/user.get", None),
    ],
)
def test_only_a_renamed_portals_redirect_is_followed(location: str, followed: str | None) -> None:
    request = httpx.Request("POST", "https://acme.bitrix24.ru/rest/1/code/user.get")
    response = httpx.Response(302, headers={"location": location})
    assert new_host(request, response) == followed


def test_an_added_portals_webhook_and_domain_follow_its_new_name(
    database_url: str, engine: Engine
) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    settings = make_settings(database_url, secrets_key=key)
    box = settings.secret_box()
    assert box is not None
    now = utcnow()
    row = Portal(
        id=3,
        name="acme",
        domain=OLD,
        api="v1",
        bot_code="okdesk_rating",
        state=PortalState.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    row.webhook_url = box.seal(WEBHOOK, context=context("acme", "webhook_url"))
    upgrade(database_url)
    with transaction(engine) as session:
        portals.save_portal(session, row, now=now)
    renamed(engine, settings, OLD, NEW, now)
    with transaction(engine) as session:
        stored = portals.portal_named(session, name="acme")
        assert stored is not None
        view = opened(stored, settings)
    assert stored.domain == NEW and stored.state == PortalState.ACTIVE
    assert view.settings.bitrix_webhook_url == f"https://{NEW}/rest/1/hooktoken/"
