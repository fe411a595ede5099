"""Start the service: `python -m bridge` (migrations, web app and worker in one process)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from bridge.config.collection import keep_out_of_collection
from bridge.config.command_help import settings_help
from bridge.config.logs import setup_logging
from bridge.config.settings import settings_or_exit
from bridge.web.app import create_app
from bridge.web.server import limits_of, serve
from storage.migrate import upgrade_or_exit

log = logging.getLogger("bridge")


def main(argv: list[str] | None = None) -> int:
    """Load settings (stopping with a clear message when they are wrong) and serve."""
    argparse.ArgumentParser(
        prog="python -m bridge",
        description="Serve the Okdesk webhook and the Bitrix24 bot's events, and run the "
        "worker, on HOST:PORT (0.0.0.0:8080) until Ctrl-C or SIGTERM.",
        epilog=settings_help(
            "one log line per event on stderr (LOG_FORMAT=json for JSON lines); secrets are "
            "masked. Other commands: python -m bot.register, python -m bridge.admin, "
            "python -m bridge.worker [--once], python -m storage.migrate."
        ),
    ).parse_args(argv)
    settings = settings_or_exit()
    # Once for the process, before anything logs: every record masks the secrets from here on.
    setup_logging(settings)
    # The database first: an unreachable one stops the start with one line, not a traceback.
    upgrade_or_exit(settings.database_url)
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
    app = create_app(settings)
    keep_out_of_collection()
    return serve(app, settings, limits_of(settings))


if __name__ == "__main__":
    sys.exit(main())
