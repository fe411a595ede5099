"""The outage proxy itself: its modes switch live, and `refuse` listens again on the same port."""

from __future__ import annotations

import httpx
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from harness.proxy import Proxy
from tests.outages.queue import served


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"hello": "world"})(scope, receive, send)


def _through(proxy: Proxy, timeout: float) -> str:
    try:
        return httpx.get(proxy.url, timeout=timeout).text
    except httpx.TransportError as exc:
        return type(exc).__name__


def test_proxy_modes_switch_live_and_refuse_relistens_on_the_same_port() -> None:
    with served(_hello) as port, Proxy("127.0.0.1", port) as proxy:
        url = proxy.url
        ok = '{"hello":"world"}'
        assert _through(proxy, 2) == ok
        proxy.set_mode("reset")
        assert _through(proxy, 2) in ("ReadError", "RemoteProtocolError", "ConnectError")
        proxy.set_mode("blackhole")
        assert _through(proxy, 0.2) == "ReadTimeout"
        proxy.set_mode("refuse")
        assert _through(proxy, 2) == "ConnectError"
        proxy.set_mode("delay", delay=0.3)
        assert _through(proxy, 0.1) == "ReadTimeout"
        assert _through(proxy, 5) == ok
        proxy.set_mode("pass")
        assert _through(proxy, 2) == ok
        assert proxy.url == url
