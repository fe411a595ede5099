"""The fakes and the service as real processes on 127.0.0.1, for the sandbox, the tests and the
benchmark: start them, point the service at the fakes, register the bot, stop them all.

Everything listens on 127.0.0.1 only; every process is stopped by its context manager or `stop`.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Secrets:
    """What the fakes and the service must agree on: the accounts' tokens and the bot's app."""

    okdesk_token: str
    webhook_token: str
    events_token: str
    client_id: str
    webhook_path: str

    @classmethod
    def fresh(cls) -> Secrets:
        """New random secrets (letters, digits, `-` and `_` only, as the settings require)."""
        return cls(
            okdesk_token=secrets.token_hex(16),
            webhook_token=secrets.token_hex(16),
            events_token=secrets.token_hex(16),
            client_id=f"sandbox-{secrets.token_hex(4)}",
            webhook_path=f"/rest/1/{secrets.token_hex(8)}/",
        )


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of a child process: ours without settings, plus `extra`."""
    keep = {k: v for k, v in os.environ.items() if not k.isupper() or k in ("PATH", "HOME")}
    return {**keep, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class Fakes:
    """The fake Okdesk and Bitrix24 running in their own process."""

    okdesk: str
    bitrix: str
    bitrix_webhook: str
    process: subprocess.Popen[str]
    # Every fake portal's base and webhook URLs (`--portals N`), the first being `bitrix`'s.
    portals: list[dict[str, str]] = field(default_factory=list)

    def base(self, which: str) -> str:
        """The base URL of one fake: `okdesk`, `bitrix` (the first portal) or `bitrix:N`."""
        if which.startswith("bitrix:"):
            return self.portals[int(which.removeprefix("bitrix:"))]["bitrix"]
        return self.okdesk if which == "okdesk" else self.bitrix

    def control(self, which: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to one fake's control route `/_fake/<route>`; its JSON answer."""
        answer = httpx.post(f"{self.base(which)}/_fake/{route}", json=body, timeout=15)
        answer.raise_for_status()
        return dict(answer.json())

    def state(self, which: str) -> dict[str, Any]:
        """The public state of one fake (`okdesk` or `bitrix`)."""
        return dict(httpx.get(f"{self.base(which)}/_fake/state", timeout=10).json())

    def seed(self, which: str, body: dict[str, Any]) -> None:
        """Add data to one fake."""
        self.control(which, "seed", body)

    def fail(self, which: str, route_or_method: str, entries: list[Any]) -> None:
        """Make the next calls of a route or method fail."""
        self.control(which, "fail", {"route_or_method": route_or_method, "entries": entries})


def start_fakes(keys: Secrets, *args: str) -> Fakes:
    """Start `python -m sandbox.fakes.serve` and wait for its URLs (stop it with `stop_fakes`)."""
    command = [sys.executable, "-m", "sandbox.fakes.serve", "--okdesk-port", "0"]
    command += ["--bitrix-port", "0", "--api-token", keys.okdesk_token]
    command += ["--webhook-path", keys.webhook_path, *args]
    process = subprocess.Popen(
        command, cwd=ROOT, env=process_env({}), stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise RuntimeError("the fakes did not start")
    urls = json.loads(line)
    return Fakes(urls["okdesk"], urls["bitrix"], urls["bitrix_webhook"], process, urls["portals"])


def stop_fakes(fakes: Fakes) -> None:
    """Stop the fakes' process and wait for it."""
    if fakes.process.poll() is None:
        fakes.process.send_signal(signal.SIGTERM)
    try:
        fakes.process.wait(10)
    except subprocess.TimeoutExpired:
        fakes.process.kill()
        fakes.process.wait()


@contextmanager
def fakes_process(keys: Secrets, *args: str) -> Iterator[Fakes]:
    """The fakes as a process for the duration of the block."""
    fakes = start_fakes(keys, *args)
    try:
        yield fakes
    finally:
        stop_fakes(fakes)


def service_env(
    fakes: Fakes, keys: Secrets, database_url: str, port: int, **extra: str
) -> dict[str, str]:
    """The environment a real deployment would set, pointed at the fakes."""
    return {
        "DATABASE_URL": database_url,
        "OKDESK_URL": fakes.okdesk,
        "OKDESK_API_TOKEN": keys.okdesk_token,
        "OKDESK_WEBHOOK_TOKEN": keys.webhook_token,
        "BITRIX_WEBHOOK_URL": fakes.bitrix_webhook,
        "BITRIX_CLIENT_ID": keys.client_id,
        "BITRIX_EVENTS_TOKEN": keys.events_token,
        "PUBLIC_URL": f"http://127.0.0.1:{port}/",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RETRY_BASE": "0.05s",
        "RETRY_CAP": "0.5s",
        "WORKER_POLL_INTERVAL": "0.1s",
        # Load and chaos tests close hundreds of tickets from one address at once.
        "WEBHOOK_SURVEYS_PER_MINUTE": "100000",
        **extra,
    }


@dataclass
class Service:
    """One running service process (web app and worker, or a worker alone)."""

    env: dict[str, str]
    log_path: Path
    module: str = "bridge"
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    log_file: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The service's base URL."""
        return f"http://127.0.0.1:{self.env['PORT']}"

    def start(self, wait: bool = True) -> None:
        """Start the process (and wait until it answers its health check)."""
        self.log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module, *self.args],
            cwd=self.log_path.parent,
            env=process_env(self.env),
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        if wait and self.module == "bridge":
            self.wait_healthy()

    def healthy(self) -> bool:
        """Whether /healthz answers 200 now (raising when the process has exited)."""
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"service exited: {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(self, within: float = 90.0) -> None:
        """Wait until /healthz answers 200 (failing at once if the process exits). The bound
        is one only a stall reaches: on a busy machine a service's start (imports, migrations)
        took over 20 s."""
        deadline = time.monotonic() + within
        while not self.healthy():
            if time.monotonic() > deadline:
                raise AssertionError(f"the service was not healthy within {within}s")
            time.sleep(0.05)

    def send(self, signum: int) -> None:
        """Send a signal to the process."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, within: float = 20.0) -> int | None:
        """Stop the process with `signum` and wait for it."""
        if self.process is None:
            return None
        self.send(signum)
        try:
            code = self.process.wait(within)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        if self.log_file is not None:
            self.log_file.close()
        self.process = None
        return code


def register_bot(env: dict[str, str], cwd: Path) -> str:
    """Run `python -m bot.register` as an administrator would; all it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.register"],
        cwd=cwd,
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr
