"""The naive baseline: what an older tool does on Okdesk's closure webhook. It calls the vendors
inside the request (the issue and its contact from Okdesk, the user from Bitrix24 with
user.get, then imbot.message.add) and only then answers 200. Nothing is stored and nothing is
retried: a vendor failure is a 502 to Okdesk.

Run as its own process (the benchmark does), reading the same settings as the service:

    OKDESK_URL=... OKDESK_API_TOKEN=... OKDESK_WEBHOOK_TOKEN=... BITRIX_WEBHOOK_URL=...
    BITRIX_CLIENT_ID=... PORT=... python -m bench.naive
"""

from __future__ import annotations

import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

WEBHOOK_ROUTE = "/api/v1/okdesk/webhook"
BUTTONS = [
    {"TEXT": str(score), "COMMAND": "rate", "COMMAND_PARAMS": str(score)} for score in range(1, 6)
]


@dataclass(frozen=True)
class NaiveSettings:
    """Where the vendors are and the secrets shared with them (the service's variable names)."""

    okdesk_url: str
    okdesk_token: str
    webhook_token: str
    bitrix_webhook_url: str
    client_id: str

    @classmethod
    def from_env(cls, env: dict[str, str]) -> NaiveSettings:
        """Read the service's environment variables."""
        return cls(
            okdesk_url=env["OKDESK_URL"].rstrip("/"),
            okdesk_token=env["OKDESK_API_TOKEN"],
            webhook_token=env["OKDESK_WEBHOOK_TOKEN"],
            bitrix_webhook_url=env["BITRIX_WEBHOOK_URL"].rstrip("/") + "/",
            client_id=env["BITRIX_CLIENT_ID"],
        )


class VendorError(Exception):
    """A vendor answered something the naive design cannot go on with."""


async def _okdesk(
    client: httpx.AsyncClient, settings: NaiveSettings, path: str, **query: Any
) -> Any:
    """One GET to Okdesk's REST API; its JSON."""
    params = {"api_token": settings.okdesk_token, **query}
    response = await client.get(f"{settings.okdesk_url}/api/v1/{path}", params=params)
    if response.status_code != 200:
        raise VendorError(f"Okdesk {path}: HTTP {response.status_code}")
    return response.json()


async def _bitrix(
    client: httpx.AsyncClient, settings: NaiveSettings, method: str, params: dict[str, Any]
) -> Any:
    """One Bitrix24 REST call through the inbound webhook; its `result`."""
    response = await client.post(f"{settings.bitrix_webhook_url}{method}.json", json=params)
    body = response.json()
    if response.status_code != 200 or "error" in body:
        raise VendorError(f"Bitrix24 {method}: HTTP {response.status_code} {body.get('error')}")
    return body["result"]


async def invite(client: httpx.AsyncClient, settings: NaiveSettings, issue_id: int) -> int:
    """The four vendor calls, one after another; the Bitrix24 message id."""
    issue = await _okdesk(client, settings, f"issues/{issue_id}")
    contact = await _okdesk(client, settings, "contacts/", id=issue["contact"]["id"])
    users = await _bitrix(client, settings, "user.get", {"FILTER": {"EMAIL": contact["email"]}})
    if not users:
        raise VendorError("no Bitrix24 user with the contact's e-mail")
    message = {
        "CLIENT_ID": settings.client_id,
        "DIALOG_ID": str(users[0]["ID"]),
        "MESSAGE": f"Оцените, пожалуйста, решение заявки №{issue_id}",
        "KEYBOARD": {"BUTTONS": BUTTONS},
    }
    return int(await _bitrix(client, settings, "imbot.message.add", message))


def naive_app(settings: NaiveSettings) -> Starlette:
    """The naive webhook receiver as a Starlette app."""
    clients: list[httpx.AsyncClient] = []

    async def webhook(request: Request) -> Response:
        """Answer only after the invitation is sent."""
        given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), settings.webhook_token.encode()):
            return JSONResponse({"detail": "bad token"}, 401)
        payload = await request.json()
        issue_id = int(payload["issue"]["id"])
        try:
            message_id = await invite(clients[0], settings, issue_id)
        except (VendorError, httpx.HTTPError) as error:
            return JSONResponse({"detail": str(error)}, 502)
        return JSONResponse({"result": "invited", "message_id": message_id})

    async def healthz(request: Request) -> Response:
        """Liveness, for the process starter."""
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            clients.append(client)
            yield

    routes = [
        Route(WEBHOOK_ROUTE, webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main() -> None:
    """Serve the naive app on 127.0.0.1:$PORT."""
    settings = NaiveSettings.from_env(dict(os.environ))
    port = int(os.environ["PORT"])
    uvicorn.run(naive_app(settings), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
