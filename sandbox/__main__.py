"""python -m sandbox: try the service with no accounts.

Starts, in one process tree, a fake Okdesk and a fake Bitrix24, the service on a temporary SQLite
database with its worker and its bot registered in the fake portal, and one page to drive them.
It prints the page's address and opens it in a browser (unless --no-browser); Ctrl-C stops it all.
`--bitrix-api v2` runs the bot on imbot.v2 in fetch mode instead of imbot v1 (the default).
`--portals 2` adds a second client company whose people are asked in a Bitrix24 portal of its
own, and the page looks into the chats of either portal's people.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
import tempfile
import threading
import webbrowser
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from sandbox.page import create_page
from sandbox.processes import free_port
from sandbox.run import APIS, Sandbox

DEFAULT_PORT = 8090
# Long enough to try a button; short enough to watch a default rating arrive.
DEFAULT_TIMEOUT = "10m"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Try the service with fake Okdesk and Bitrix24: no accounts, nothing to set.",
        epilog="settings: none (.env is not read; the fakes, a temporary SQLite database and "
        "fresh secrets are made for the run). Prints: the page's address; stop with Ctrl-C or "
        "SIGTERM, which stops the fakes and the service too.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="the page's port (0: any)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--rating-timeout", default=DEFAULT_TIMEOUT, help="e.g. 30s, 10m, 24h")
    parser.add_argument(
        "--bitrix-api",
        choices=APIS,
        default="v1",
        help="the bot's Bitrix24 API: v1 (imbot, events posted to the service) or v2 "
        "(imbot.v2, events fetched by the service: no PUBLIC_URL)",
    )
    parser.add_argument(
        "--portals",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: a second client company with a Bitrix24 portal of its own, connected with "
        "`portal add` (imbot v1)",
    )
    args = parser.parse_args(argv)
    if args.portals == 2 and args.bitrix_api != "v1":
        parser.error("--portals 2 runs on imbot v1 only (its second portal is a v1 one)")
    return args


class PageServer(uvicorn.Server):
    """uvicorn serving the page, announcing its address once it listens."""

    def __init__(self, config: uvicorn.Config, url: str, open_browser: bool) -> None:
        super().__init__(config)
        self.url = url
        self.open_browser = open_browser

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        """Listen, then print the address (and open it)."""
        await super().startup(sockets)  # type: ignore[arg-type]
        if not self.started:
            return
        print(f"Песочница / sandbox: {self.url}  (Ctrl-C — остановить / to stop)", flush=True)
        if self.open_browser:
            threading.Thread(target=webbrowser.open, args=(self.url,), daemon=True).start()


def serve(sandbox: Sandbox, port: int, open_browser: bool) -> None:
    """Serve the page until Ctrl-C (or SIGTERM)."""
    config = uvicorn.Config(
        create_page(sandbox), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    server = PageServer(config, f"http://127.0.0.1:{port}/", open_browser)
    asyncio.run(server.serve())


def port_taken(port: int) -> bool:
    """Whether something already listens on the page's port."""
    with socket.socket() as probe:
        # As uvicorn binds: a port left in TIME_WAIT by the last run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _stop_as_ctrl_c(signum: int, frame: object) -> None:
    """SIGTERM (kill, docker stop, a service manager) stops the whole tree, as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Start everything, serve the page, stop everything."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    port = args.port or free_port()
    if port_taken(port):
        print(
            f"python -m sandbox: port {port} is in use; choose another with --port "
            "(--port 0: any free port)",
            file=sys.stderr,
        )
        return 2
    signal.signal(signal.SIGTERM, _stop_as_ctrl_c)
    with tempfile.TemporaryDirectory(prefix="rating-sandbox-") as directory:
        sandbox = Sandbox(Path(directory), args.rating_timeout, args.bitrix_api, args.portals)
        api = "imbot.v2" if args.bitrix_api == "v2" else "imbot v1"
        print(f"Запускаю поддельные Okdesk и Битрикс24 ({api}) и сервис…", flush=True)
        try:
            sandbox.start()
            print(
                "Настройки сервиса / the service's settings: "
                f"python -m bridge.admin --env-file {sandbox.settings_file} check",
                flush=True,
            )
            serve(sandbox, port, not args.no_browser)
        except KeyboardInterrupt:
            pass
        finally:
            with contextlib.suppress(KeyboardInterrupt):
                sandbox.stop()
    print("Остановлено / stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
