"""Real processes for end-to-end, chaos and benchmark runs: the fakes and the service, started
by the sandbox's `sandbox.processes` with the tests' identities (harness/constants.py).

Everything listens on 127.0.0.1 only; every process is stopped by the context managers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from harness.constants import (
    CLIENT_ID,
    EVENTS_TOKEN,
    OKDESK_TOKEN,
    USER_ID,
    USER_TOKEN,
    WEBHOOK_PATH,
    WEBHOOK_TOKEN,
)
from harness.payloads import fixture_json, rest_issue
from harness.senders import Senders
from sandbox import processes
from sandbox.processes import Secrets, free_port, process_env, register_bot

__all__ = [
    "TEST_SECRETS",
    "Fakes",
    "Service",
    "fakes_process",
    "free_port",
    "process_env",
    "register_bot",
    "service_env",
    "service_on_fakes",
]

TEST_SECRETS = Secrets(
    okdesk_token=OKDESK_TOKEN,
    webhook_token=WEBHOOK_TOKEN,
    events_token=EVENTS_TOKEN,
    client_id=CLIENT_ID,
    webhook_path=WEBHOOK_PATH,
)


class Fakes(processes.Fakes):
    """The fakes as a process, with the tests' fixture data at hand."""

    def seed_tickets(self, issue_ids: list[int], portal: str = "bitrix") -> None:
        """Tickets with the fixture contact, and the fixture Bitrix24 user (on `portal`)."""
        self.seed(
            "okdesk",
            {
                "contacts": {"11771": fixture_json("okdesk/contact_11771.json")},
                "issues": {str(i): rest_issue(i) for i in issue_ids},
            },
        )
        self.seed(
            portal,
            {
                "users": fixture_json("bitrix24/user_get_by_email.json")["result"],
                "user_tokens": {USER_TOKEN: USER_ID},
            },
        )


@contextmanager
def fakes_process(*args: str) -> Iterator[Fakes]:
    """Start `python -m sandbox.fakes.serve` with the tests' identities."""
    with processes.fakes_process(TEST_SECRETS, *args) as started:
        yield Fakes(
            started.okdesk, started.bitrix, started.bitrix_webhook, started.process, started.portals
        )


def service_env(
    fakes: processes.Fakes, database_url: str, port: int, **extra: str
) -> dict[str, str]:
    """The environment a real deployment would set, pointed at the fakes."""
    # Survey rules that add messages (issue 10) are switched on by the tests about them.
    # So is reconciliation: it would find the seeded tickets, completed an hour ago.
    defaults = {"REMINDER_AFTER": "off", "FOLLOWUP_MAX_SCORE": "off", "CHANGE_WINDOW": "off"}
    defaults["RECONCILE_INTERVAL"] = "off"
    return processes.service_env(fakes, TEST_SECRETS, database_url, port, **{**defaults, **extra})


class Service(processes.Service):
    """One running service process, with senders of the tests' webhooks and events."""

    def senders(self, *, client_id: str = CLIENT_ID) -> Senders[httpx.Response]:
        """Webhooks and events sent to this process over HTTP, the events naming the fake
        portal (it listens on 127.0.0.1) and the bot `client_id`."""
        return Senders(partial(_post, self.url), portal="127.0.0.1", client_id=client_id)


def _post(base_url: str, path: str, **request: Any) -> httpx.Response:
    """One POST to a service process."""
    return httpx.post(base_url + path, timeout=10, **request)


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
