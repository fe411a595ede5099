"""The sandbox's processes: the fakes, the service on a temporary SQLite database with the worker
on, and the bot registered in the fake portal, as an administrator would register it.

On imbot v1 (the default) the portal posts the bot's events to the service; on imbot.v2 the
portal queues them and the service fetches them (fetch mode), so it needs no PUBLIC_URL.

With two portals (`--portals 2`, imbot v1) the second, the client ООО Лютик's, is connected as
an operator would: `python -m bridge.admin portal add lyutik <its webhook>`, then each company
mapped to its portal (`portal map`).
"""

from __future__ import annotations

import base64
import logging
import secrets
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from urllib.parse import urlencode

from sandbox import world
from sandbox.processes import (
    Fakes,
    Secrets,
    Service,
    free_port,
    process_env,
    register_bot,
    service_env,
    start_fakes,
    stop_fakes,
)

log = logging.getLogger(__name__)

WEBHOOK = "/api/v1/okdesk/webhook"
APIS = ("v1", "v2")
# How often the service fetches imbot.v2 events: a click shows its result within about a second.
V2_POLL_INTERVAL = "1s"


def api_settings(api: str) -> dict[str, str]:
    """The service's settings for one Bitrix24 API (v2: fetch mode, a fresh bot token)."""
    if api == "v1":
        return {}
    return {
        "BITRIX_API": "v2",
        "BITRIX_EVENT_MODE": "fetch",
        "BITRIX_BOT_TOKEN": secrets.token_hex(16),
        "BITRIX_POLL_INTERVAL": V2_POLL_INTERVAL,
    }


class Sandbox:
    """The fakes and the service, started and stopped together."""

    def __init__(
        self, directory: Path, rating_timeout: str, api: str = "v1", portals: int = 1
    ) -> None:
        if api not in APIS:
            raise ValueError(f"unknown Bitrix24 API {api!r}: v1 or v2")
        if portals not in (1, 2) or (portals == 2 and api != "v1"):
            raise ValueError("--portals 2 runs on imbot v1 only (its second portal is a v1 one)")
        self.portals = portals
        self.directory = directory
        self.keys = Secrets.fresh()
        self.admin_token = secrets.token_urlsafe(24)
        self.rating_timeout = rating_timeout
        self.api = api
        self.database_url = f"sqlite:///{directory / 'sandbox.db'}"
        self.fakes: Fakes | None = None
        self.service: Service | None = None
        self._restarting = threading.Lock()

    def start(self) -> None:
        """Start the fakes with the little world in them, register the bot, start the service
        and point Okdesk's status webhook at it."""
        self.fakes = start_fakes(
            self.keys, "--bitrix-api", self.api, "--portals", str(self.portals)
        )
        several = {"SECRETS_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
        env = service_env(
            self.fakes,
            self.keys,
            self.database_url,
            free_port(),
            RATING_TIMEOUT=self.rating_timeout,
            # The team's chat gets the alerts; the report page opens with ADMIN_TOKEN.
            ALERT_DIALOG_ID=world.TEAM_CHAT,
            ADMIN_TOKEN=self.admin_token,
            **api_settings(self.api),
            **(several if self.portals > 1 else {}),
        )
        codes = [env.get("BITRIX_BOT_CODE", "okdesk_rating")]
        codes.append(env.get("BITRIX_V2_BOT_CODE", "okdesk_rating_v2"))
        world.seed(self.fakes, codes, self.portals)
        if self.api == "v2":
            # Fetch mode: nothing reaches the service from outside but Okdesk's webhook.
            del env["PUBLIC_URL"]
        register_bot(env, self.directory)
        if self.portals > 1:
            self._connect_client_portal(env)
        self.service = Service(env, self.directory / "service.log")
        self.service.start()
        self.write_settings()
        query = urlencode({"token": self.keys.webhook_token})
        self.fakes.control("okdesk", "webhook", {"url": f"{self.service.url}{WEBHOOK}?{query}"})

    def _connect_client_portal(self, env: dict[str, str]) -> None:
        """The client's portal added and each company mapped, as the operator does it."""
        assert self.fakes is not None
        webhook = self.fakes.portals[1]["bitrix_webhook"]
        for argv in (
            ("add", world.CLIENT_PORTAL, webhook),
            ("map", str(world.COMPANY_ID), "default"),
            ("map", str(world.CLIENT_COMPANY_ID), world.CLIENT_PORTAL),
        ):
            done = subprocess.run(
                [sys.executable, "-m", "bridge.admin", "portal", *argv],
                cwd=self.directory,
                env=process_env(env),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"portal {argv[0]}: {done.stdout}{done.stderr}".strip())
            log.info("sandbox.portal %s", done.stdout.splitlines()[0] if done.stdout else argv[0])

    def restart_service(self, **settings: str) -> None:
        """Stop the service and start it again with these settings changed (same database)."""
        with self._restarting:
            assert self.service is not None
            self.service.stop()
            self.service.env.update(settings)
            self.rating_timeout = self.service.env["RATING_TIMEOUT"]
            self.service.start()
            self.write_settings()
            log.info(
                "sandbox.service_restarted %s", " ".join(f"{k}={v}" for k, v in settings.items())
            )

    @property
    def settings_file(self) -> Path:
        """The service's settings as a `.env` file, for `python -m bridge.admin --env-file`."""
        return self.directory / "service.env"

    def write_settings(self) -> None:
        """Write the running service's settings to `settings_file`."""
        assert self.service is not None
        lines = [f"{name}={value}" for name, value in sorted(self.service.env.items())]
        self.settings_file.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def log_tail(self, lines: int = 14) -> list[str]:
        """The last lines of the service's log."""
        path = self.directory / "service.log"
        if not path.exists():
            return []
        with path.open(encoding="utf-8", errors="replace") as file:
            return [line.rstrip("\n") for line in deque(file, maxlen=lines)]

    def stop(self) -> None:
        """Stop the service, then the fakes (whatever of them was started)."""
        if self.service is not None:
            self.service.stop()
        if self.fakes is not None:
            stop_fakes(self.fakes)
