"""Helpers shared by the fake vendor servers: PHP-style form decoding and the control API."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

_BRACKET = re.compile(r"\[([^\]]*)\]")


def split_php_key(key: str) -> list[str]:
    """Split `a[b][]` into `["a", "b", ""]`."""
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    return [head, *_BRACKET.findall(bracket + rest)]


def _put(root: dict[str, Any], parts: list[str], value: str) -> None:
    """Store one decoded form value at its nested PHP-style position."""
    node = root
    for part in parts[:-1]:
        key = part or str(len(node))
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[parts[-1] or str(len(node))] = value


def listify(value: Any) -> Any:
    """Turn dicts keyed "0".."n-1" into lists, as PHP's json_encode would."""
    if not isinstance(value, dict):
        return value
    items = {key: listify(item) for key, item in value.items()}
    if items and list(items) == [str(i) for i in range(len(items))]:
        return list(items.values())
    return items


def unflatten(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode PHP-style form pairs (`FILTER[EMAIL]=x`) into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        _put(root, split_php_key(key), value)
    decoded = {key: listify(item) for key, item in root.items()}
    return decoded


def int_keys(data: Mapping[Any, Any] | Iterable[Any]) -> dict[int, Any]:
    """Key objects by int: accepts {"12": obj} or a list of objects with `id`/`ID`."""
    if isinstance(data, Mapping):
        return {int(key): value for key, value in data.items()}
    return {int(item.get("id", item.get("ID"))): item for item in data}


def str_keys(data: Mapping[int, Any]) -> dict[str, Any]:
    """Key a dict by str, since JSON object keys are strings."""
    return {str(key): value for key, value in data.items()}


class Controllable(Protocol):
    """What the `/_fake/` control API needs from a fake."""

    latency: float
    error_rate: float

    def control_state(self) -> dict[str, Any]:
        """Return the public state as JSON-ready data."""

    def control_seed(self, data: dict[str, Any]) -> None:
        """Merge JSON data into the state."""

    def control_fail(self, name: str, entries: list[Any]) -> None:
        """Queue failures for a route or method."""


async def read_json_object(request: Request) -> dict[str, Any]:
    """Read a JSON object body (empty or non-object bodies give {})."""
    body = await request.body()
    data = await request.json() if body.strip() else {}
    return data if isinstance(data, dict) else {}


def control_routes(fake: Controllable) -> list[BaseRoute]:
    """Build the `/_fake/state|seed|fail|latency|errors` routes for one fake."""

    async def state(request: Request) -> JSONResponse:
        """Answer the public state."""
        return JSONResponse(fake.control_state())

    async def seed(request: Request) -> JSONResponse:
        """Merge the body into the state."""
        fake.control_seed(await read_json_object(request))
        return JSONResponse({"ok": True})

    async def fail(request: Request) -> JSONResponse:
        """Queue failures."""
        body = await read_json_object(request)
        fake.control_fail(str(body["route_or_method"]), list(body.get("entries", [])))
        return JSONResponse({"ok": True})

    async def latency(request: Request) -> JSONResponse:
        """Set the per-request latency."""
        fake.latency = float((await read_json_object(request))["latency"])
        return JSONResponse({"ok": True, "latency": fake.latency})

    async def errors(request: Request) -> JSONResponse:
        """Set the share of API requests (0 to 1) that fail as an overloaded front end would."""
        rate = float((await read_json_object(request))["rate"])
        fake.error_rate = min(max(rate, 0.0), 1.0)
        return JSONResponse({"ok": True, "error_rate": fake.error_rate})

    return [
        Route("/_fake/state", state, methods=["GET"]),
        Route("/_fake/errors", errors, methods=["POST"]),
        Route("/_fake/seed", seed, methods=["POST"]),
        Route("/_fake/fail", fail, methods=["POST"]),
        Route("/_fake/latency", latency, methods=["POST"]),
    ]


def bad_gateway() -> Response:
    """What a vendor's front proxy answers when the application behind it fails (a transient
    failure the caller should retry): nginx's own 502 page, not the API's JSON."""
    page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
    return HTMLResponse(page + "</h1></center><hr><center>nginx</center></body></html>", 502)


def unlucky(error_rate: float) -> bool:
    """Whether this request is one of the `error_rate` share that fails."""
    return error_rate > 0 and random.random() < error_rate
