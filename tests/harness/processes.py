"""Real processes for end-to-end, chaos and benchmark runs: the fakes and the service.

Everything listens on 127.0.0.1 only; every process is stopped by the context managers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from tests.harness.constants import (
    CLIENT_ID,
    EVENTS_TOKEN,
    OKDESK_TOKEN,
    ROOT,
    USER_ID,
    USER_TOKEN,
    WEBHOOK_PATH,
    WEBHOOK_TOKEN,
)
from tests.harness.payloads import fixture_json, rest_issue
from tests.harness.senders import Senders
from tests.harness.waiting import wait_for


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

    def state(self, which: str) -> dict[str, Any]:
        """The public state of one fake (`okdesk` or `bitrix`)."""
        base = self.okdesk if which == "okdesk" else self.bitrix
        return dict(httpx.get(f"{base}/_fake/state", timeout=10).json())

    def seed(self, which: str, body: dict[str, Any]) -> None:
        """Add data to one fake."""
        base = self.okdesk if which == "okdesk" else self.bitrix
        httpx.post(f"{base}/_fake/seed", json=body, timeout=10).raise_for_status()

    def fail(self, which: str, route_or_method: str, entries: list[Any]) -> None:
        """Make the next calls of a route or method fail."""
        base = self.okdesk if which == "okdesk" else self.bitrix
        body = {"route_or_method": route_or_method, "entries": entries}
        httpx.post(f"{base}/_fake/fail", json=body, timeout=10).raise_for_status()

    def seed_tickets(self, issue_ids: list[int]) -> None:
        """Tickets with the fixture contact, and the fixture Bitrix24 user."""
        self.seed(
            "okdesk",
            {
                "contacts": {"11771": fixture_json("okdesk/contact_11771.json")},
                "issues": {str(i): rest_issue(i) for i in issue_ids},
            },
        )
        self.seed(
            "bitrix",
            {
                "users": fixture_json("bitrix24/user_get_by_email.json")["result"],
                "user_tokens": {USER_TOKEN: USER_ID},
            },
        )


@contextmanager
def fakes_process(*args: str) -> Iterator[Fakes]:
    """Start `python -m sandbox.fakes.serve` and wait for its URLs."""
    command = [
        sys.executable,
        "-m",
        "sandbox.fakes.serve",
        "--okdesk-port",
        "0",
        "--bitrix-port",
        "0",
        "--api-token",
        OKDESK_TOKEN,
        "--webhook-path",
        WEBHOOK_PATH,
        *args,
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=process_env({}), stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        yield Fakes(urls["okdesk"], urls["bitrix"], urls["bitrix_webhook"], process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def service_env(fakes: Fakes, database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment a real deployment would set, pointed at the fakes."""
    return {
        "DATABASE_URL": database_url,
        "OKDESK_URL": fakes.okdesk,
        "OKDESK_API_TOKEN": OKDESK_TOKEN,
        "OKDESK_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "BITRIX_WEBHOOK_URL": fakes.bitrix_webhook,
        "BITRIX_CLIENT_ID": CLIENT_ID,
        "BITRIX_EVENTS_TOKEN": EVENTS_TOKEN,
        "PUBLIC_URL": f"http://127.0.0.1:{port}/",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "RETRY_BASE": "0.05s",
        "RETRY_CAP": "0.5s",
        "WORKER_POLL_INTERVAL": "0.1s",
        # Load and chaos tests close hundreds of tickets from one address at once.
        "WEBHOOK_SURVEYS_PER_MINUTE": "100000",
        # Issue 10's follow-up question and «Изменить оценку»: on where a test asks for them.
        "FOLLOWUP_MAX_SCORE": "off",
        "CHANGE_WINDOW": "off",
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

    def wait_healthy(self, within: float = 20.0) -> None:
        """Wait until /healthz answers 200 (failing at once if the process exits)."""

        def healthy() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"service exited: {self.log_path.read_text()[-2000:]}")
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(healthy, within=within)

    def senders(self, *, client_id: str = CLIENT_ID) -> Senders[httpx.Response]:
        """Webhooks and events sent to this process over HTTP, the events naming the fake
        portal (it listens on 127.0.0.1) and the bot `client_id`."""
        return Senders(partial(_post, self.url), portal="127.0.0.1", client_id=client_id)

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


def _post(base_url: str, path: str, **request: Any) -> httpx.Response:
    """One POST to a service process."""
    return httpx.post(base_url + path, timeout=10, **request)


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


@contextmanager
def service_on_fakes(directory: Path, issue_ids: list[int], **extra: str) -> Iterator[Service]:
    """The service as a process (a SQLite file in `directory`, its bot registered) against
    the fakes as a process, which hold these tickets; its log must show no traceback."""
    with fakes_process() as fakes:
        fakes.seed_tickets(issue_ids)
        env = service_env(fakes, f"sqlite:///{directory / 'rating.db'}", free_port(), **extra)
        register_bot(env, directory)
        running = Service(env, directory / "service.log")
        running.start()
        try:
            yield running
        finally:
            running.stop()
    log = running.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
