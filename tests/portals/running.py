"""Two fake portals as a process, a database, and `python -m bridge.admin` run as the operator
runs it (a process with the service's environment)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.payloads import closed_webhook
from harness.processes import Fakes, fakes_process, free_port, process_env, service_env
from harness.v2 import BOT_TOKEN

KEY = base64.b64encode(os.urandom(32)).decode()
ACME = 4242  # the client company the tests connect to the portal `acme`
HOME = 2058  # the fixture's company: connected to none, so the settings' portal asks


def closed(issue_id: int, company: int) -> dict[str, Any]:
    """The closure webhook of a ticket of `company`."""
    payload = closed_webhook(issue_id)
    payload["issue"]["client"]["company"]["id"] = company
    return payload


@dataclass
class Ran:
    """What a command printed (stdout and stderr together) and how it exited."""

    code: int
    out: str


@dataclass
class Portals:
    """The fakes with two portals (`bitrix` is the settings' one, `bitrix:1` the client's), and
    the environment of a service pointed at them."""

    fakes: Fakes
    env: dict[str, str]
    cwd: Path

    @property
    def client_webhook(self) -> str:
        """The incoming webhook the client's administrator hands over."""
        return self.fakes.portals[1]["bitrix_webhook"]

    def admin(self, *argv: str, **env: str) -> Ran:
        """`python -m bridge.admin ARGV` with the service's settings (and `env` over them)."""
        done = subprocess.run(
            [sys.executable, "-m", "bridge.admin", *argv],
            cwd=self.cwd,
            env=process_env({**self.env, **env}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return Ran(done.returncode, done.stdout + done.stderr)


# The settings' portal on imbot.v2, its events fetched every second.
V2 = {"BITRIX_API": "v2", "BITRIX_BOT_TOKEN": BOT_TOKEN, "BITRIX_POLL_INTERVAL": "1s"}


@contextmanager
def two_portals(
    database_url: str, cwd: Path, *, api: str = "v1", **extra: str
) -> Iterator[Portals]:
    """Fakes of two portals, each with user 27 and its own limits, and the service's settings
    (SECRETS_KEY set) on `database_url`; `api="v2"`: both portals speak imbot.v2 too, and the
    settings' portal's bot is a v2 one."""
    if api == "v2":
        extra = {**V2, **extra}
    with fakes_process("--portals", "2", "--bitrix-api", api) as fakes:
        fakes.seed_tickets([])
        fakes.seed_tickets([], portal="bitrix:1")
        env = service_env(fakes, database_url, free_port(), SECRETS_KEY=KEY, **extra)
        yield Portals(fakes, env, cwd)
