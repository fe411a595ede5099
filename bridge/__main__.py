"""Start the service: `python -m bridge` (migrations, web app and worker in one process)."""

from __future__ import annotations

import logging
import signal
import sys

import uvicorn

from bridge.app import create_app
from bridge.logs import setup_logging
from bridge.settings import settings_or_exit

log = logging.getLogger("bridge")


def main() -> int:
    """Load settings (stopping with a clear message when they are wrong) and serve."""
    settings = settings_or_exit()
    setup_logging(settings)
    placeholders = settings.placeholders()
    if placeholders:
        log.warning(
            "settings.placeholders %s still hold example values: the worker stays off and "
            "nothing is sent to Okdesk or Bitrix24 until they are set",
            ", ".join(placeholders),
        )
    for name in settings.plain_http_urls():
        log.warning("settings.plain_http %s uses plain http: use https outside tests", name)
    # uvicorn re-raises SIGTERM after its graceful shutdown; a finished stop is a success.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
