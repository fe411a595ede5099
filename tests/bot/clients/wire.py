"""The vendors' test addresses and what the client tests read off the wire."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

PORTAL = "https://acme.bitrix24.ru"
WEBHOOK = f"{PORTAL}/rest/1/hooktoken/"
CLIENT_ID = "rating-bot-acme"
TOKEN = "okdesk-secret-api-token"


def sent_json(route: respx.Route) -> Any:
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.content)


def ok(result: Any) -> httpx.Response:
    return httpx.Response(200, json={"result": result, "time": {"start": 1.0}})


def assert_no_secret_or_url(message: str) -> None:
    for leak in ("hooktoken", TOKEN, "://", "acme.bitrix24.ru", "acme.okdesk.ru", "api_token"):
        assert leak not in message


# --- Bitrix24: batch answers are PHP arrays ----------------------------------------------------


def batch_answer(**parts: Any) -> httpx.Response:
    """A batch answer; every per-call map PHP left empty is `[]`."""
    names = ("result", "result_error", "result_total", "result_next", "result_time")
    return ok({name: parts.get(name, []) for name in names})
