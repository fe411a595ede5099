"""What every administrator command gets: the database, the settings, where to write, and the
way out to the vendors (a test's fake transport, or the network)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import TextIO

import httpx
from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from storage.tables import utcnow


class Exit(IntEnum):
    """The command's exit code."""

    OK = 0
    # A check failed, nothing was found, or the survey is not in a state the command acts on.
    FAILED = 1
    # Bad usage or bad configuration (argparse and `settings_or_exit` exit 2 too).
    USAGE = 2


@dataclass
class Context:
    """One run of one command."""

    engine: Engine
    settings: Settings
    out: TextIO
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], datetime] = field(default=utcnow)

    def say(self, line: str) -> None:
        """Write one line of the command's answer, with every secret value masked."""
        for secret in self.settings.secrets():
            line = line.replace(secret, "***")
        self.out.write(line + "\n")

    def http(self) -> httpx.AsyncClient:
        """An HTTP client for the vendors (redirects never followed: `bridge.outside.vendors`)."""
        timeout = self.settings.http_timeout.total_seconds()
        return httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=self.transport)

    def wire(self) -> httpx.AsyncBaseTransport:
        """The way out for a client that hands its requests to the transport itself (Okdesk's:
        `bridge.okdesk.client`); closed with `async with`, as `http()` is."""
        return self.transport or httpx.AsyncHTTPTransport()
