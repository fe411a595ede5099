"""Serve both fakes over HTTP on 127.0.0.1.

Usage: python -m sandbox.fakes.serve --okdesk-port P1 --bitrix-port P2 [--latency S] [--rate-limit]
Port 0 picks a free port. Once both listen, one JSON line with their base URLs goes to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import Iterator, Sequence
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from sandbox.fakes.bitrix import MEMBER_ID, FakeBitrix
from sandbox.fakes.bitrix_v2 import FakeBitrixV2
from sandbox.fakes.okdesk import FakeOkdesk


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `run`, so two can share a loop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handlers."""
        yield


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="Serve the fake Okdesk and Bitrix24 APIs.")
    parser.add_argument("--okdesk-port", type=int, required=True)
    parser.add_argument("--bitrix-port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--rate-limit", action="store_true", help="Bitrix leaky bucket 50 + 2/s")
    parser.add_argument("--burst", type=int, default=50, help="Bitrix bucket size")
    parser.add_argument("--drain-per-second", type=float, default=2.0, help="Bitrix drain rate")
    parser.add_argument("--api-token", default="okdesk-test-token")
    parser.add_argument("--webhook-path", default="/rest/1/hooktoken/")
    parser.add_argument(
        "--bitrix-api", choices=("v1", "v2"), default="v1", help="v2: also serve imbot.v2.*"
    )
    parser.add_argument(
        "--no-v2-limit", action="store_true", help="lift imbot.v2's 2 requests a second"
    )
    parser.add_argument(
        "--v2-throttle-status",
        type=int,
        choices=(429, 503),
        default=503,
        help="how imbot.v2 says 'too many requests' (both are seen; 503 by default)",
    )
    parser.add_argument(
        "--portals",
        type=int,
        default=1,
        help="how many Bitrix24 portals (each of --bitrix-api), each on a port of its own with "
        "its own state, limits and member_id (ids repeat across them: user 27 on each)",
    )
    parser.add_argument(
        "--v2-in-batch",
        action="store_true",
        help="run imbot.v2 calls inside batch (undocumented; refused by default)",
    )
    return parser.parse_args(argv)


def _server(app: ASGIApp, port: int) -> _Server:
    """Build a quiet uvicorn server for one app. Stopped, it waits at most a second for the
    requests it is still answering: a fake keeps nothing, and a request made slow on purpose
    (a latency of a minute) held every test's stop for the fakes' ten seconds of grace."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )
    return _Server(config)


def _port(server: _Server) -> int:
    """Return the port a started server actually listens on."""
    return int(server.servers[0].sockets[0].getsockname()[1])


async def _announce(servers: list[_Server], tasks: list[asyncio.Task[None]], hook: str) -> None:
    """Wait until every server listens, then print their URLs as one JSON line (the first
    portal as `bitrix`, every portal under `portals`)."""
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks):
            return
        await asyncio.sleep(0.02)
    okdesk, *portals = (f"http://127.0.0.1:{_port(s)}" for s in servers)
    ready: dict[str, object] = {"okdesk": okdesk, "bitrix": portals[0]}
    ready["bitrix_webhook"] = portals[0] + hook
    ready["portals"] = [{"bitrix": url, "bitrix_webhook": url + hook} for url in portals]
    print(json.dumps(ready), flush=True)


def member_id(number: int) -> str:
    """The member_id of the fake portal `number` (the first has the reference's)."""
    return MEMBER_ID if number == 0 else f"{MEMBER_ID[:-4]}{number:04d}"


def _portal(args: argparse.Namespace, member: str, limits: dict[str, Any]) -> FakeBitrix:
    """One fake portal, speaking imbot.v2 too with `--bitrix-api v2` (every portal alike)."""
    # Events name the portal by the host its REST API is reached at (bitrix24.md §5).
    if args.bitrix_api == "v2":
        return FakeBitrixV2(
            args.webhook_path,
            latency=args.latency,
            v2_rate_limit=not args.no_v2_limit,
            v2_throttle_status=args.v2_throttle_status,
            v2_in_batch=args.v2_in_batch,
            domain="127.0.0.1",
            member_id=member,
            **limits,
        )
    return FakeBitrix(
        args.webhook_path, latency=args.latency, domain="127.0.0.1", member_id=member, **limits
    )


async def run(args: argparse.Namespace) -> None:
    """Run both fakes until SIGINT/SIGTERM."""
    okdesk = FakeOkdesk(api_token=args.api_token, latency=args.latency)
    limits = {"rate_limit": args.rate_limit, "burst": args.burst}
    limits["drain_per_second"] = args.drain_per_second
    bitrix = _portal(args, member_id(0), limits)
    others = [_portal(args, member_id(n), limits) for n in range(1, args.portals)]
    servers = [_server(okdesk.app, args.okdesk_port), _server(bitrix.app, args.bitrix_port)]
    servers += [_server(portal.app, 0) for portal in others]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop, servers)
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    await _announce(servers, tasks, bitrix.webhook_path)
    await asyncio.gather(*tasks)


def _stop(servers: list[_Server]) -> None:
    """Ask every server to shut down."""
    for server in servers:
        server.should_exit = True


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    main()
