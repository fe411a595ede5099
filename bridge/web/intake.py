"""Checks every request passes before the service stores anything: its secret, its type,
its size, its shape, and how fast one sender may open surveys.

They answer with a clear 4xx (`HTTPException`) and never call a vendor.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections import OrderedDict
from typing import Any

from fastapi import HTTPException, Request
from pydantic import ValidationError

# Okdesk sends the ticket's whole HTML description, of any length (a ticket made from a long
# e-mail): its webhooks may be large. Bitrix24 events are small.
OKDESK_MAX_BODY = 2 * 1024 * 1024
BITRIX_MAX_BODY = 64 * 1024
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
                            "auth[member_id]",
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


def same_secret(given: str | None, expected: str) -> bool:
    """Whether a secret was given and equals the expected one, compared in constant time."""
    # compare_digest on str refuses non-ASCII with TypeError; compare bytes instead.
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def known_secret(given: str | None, expected: list[str]) -> bool:
    """Whether `given` equals one of the expected secrets; each is compared, in constant time."""
    matches = [same_secret(given, secret) for secret in expected]
    return any(matches)


def require_type(request: Request, allowed: tuple[str, ...]) -> None:
    """415 unless the body's media type is one of `allowed`."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in allowed:
        raise HTTPException(415, f"the body must be {' or '.join(allowed)}")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes the limit (chunked bodies too)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.strip().isascii() and declared.strip().isdigit()):
            raise HTTPException(400, "the Content-Length header is not a number")
        if int(declared) > limit:
            raise HTTPException(413, f"the body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is larger than {limit} bytes")
    return bytes(body)


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or 400 saying why it is not one."""
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


def describe(exc: ValidationError) -> str:
    """The first few validation problems, one line, for a 400's detail."""
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


class SenderLimit:
    """How often one sender may do a thing per minute (a token bucket per sender address):
    open a survey through the webhook, or guess an ADMIN_TOKEN or METRICS_TOKEN wrong.

    Past the survey limit the webhook answers 429: Okdesk does not resend, but reconciliation reads
    the real ticket list and opens the surveys of genuine closures later.
    """

    MAX_SENDERS = 10_000

    def __init__(self, per_minute: int) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(per_minute)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def spent(self, sender: str) -> bool:
        """Whether the sender's allowance is used up now (nothing is taken)."""
        now = time.monotonic()
        with self._lock:
            tokens, since = self._buckets.get(sender, (self._burst, now))
        return min(self._burst, tokens + (now - since) * self._rate) < 1.0

    def allow(self, sender: str) -> bool:
        """Take one survey from the sender's allowance; False when it is used up."""
        now = time.monotonic()
        with self._lock:
            tokens, since = self._buckets.pop(sender, (self._burst, now))
            tokens = min(self._burst, tokens + (now - since) * self._rate)
            allowed = tokens >= 1.0
            self._buckets[sender] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.MAX_SENDERS:
                self._buckets.popitem(last=False)
        return allowed
