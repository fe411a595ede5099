"""Secrets stay secret (P14): the whole loop runs as processes with sentinel secrets and a
sentinel e-mail address; afterwards none of them is found in logs, output or storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from harness.constants import USER_ID, USER_TOKEN
from harness.payloads import click_body, closed_webhook, fixture_json, reply_body, rest_issue
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    process_env,
    register_bot,
    service_env,
)
from harness.senders import WEBHOOK
from harness.waiting import wait_for
from storage.db import create_db_engine
from storage.tables import JobState
from tests.databases import jobs
from tests.secrets.stored_text import EMAIL, text_cells

# --- P14: sentinel secrets through the whole loop, as processes -------------------------------

SENTINEL_EMAIL = "sentinel.person.7f3a@romashka.example"
SENTINEL_API_TOKEN = "sntl-okdesk-api-4be1c07d"
SENTINEL_WEBHOOK_TOKEN = "sntl-okdesk-hook-9a3f60e2d8"
SENTINEL_EVENTS_TOKEN = "sntl-bitrix-events-c51d7a3e"
SENTINEL_CLIENT_ID = "sntl-client-2e8b4f19"
SENTINEL_HOOK_CODE = "sntlhookcode5d0e7a"
SENTINELS = {
    "OKDESK_API_TOKEN": SENTINEL_API_TOKEN,
    "OKDESK_WEBHOOK_TOKEN": SENTINEL_WEBHOOK_TOKEN,
    "BITRIX_EVENTS_TOKEN": SENTINEL_EVENTS_TOKEN,
    "BITRIX_CLIENT_ID": SENTINEL_CLIENT_ID,
    "the Bitrix24 webhook code": SENTINEL_HOOK_CODE,
    "the contact's e-mail": SENTINEL_EMAIL,
}


def _forms(value: str) -> set[str]:
    """A secret as it may appear: as is, URL-encoded, form-encoded, in either case."""
    forms = {value, quote(value, safe=""), quote_plus(value), quote(value)}
    return forms | {form.lower() for form in forms}


def _leaks(text_: str) -> dict[str, list[str]]:
    lowered = text_.lower()
    found = {
        name: sorted(form for form in _forms(value) if form.lower() in lowered)
        for name, value in SENTINELS.items()
    }
    return {name: forms for name, forms in found.items() if forms}


def _seed(fakes: Fakes, issue_ids: list[int]) -> None:
    contact = fixture_json("okdesk/contact_11771.json")
    contact["email"] = SENTINEL_EMAIL
    issues = {str(i): rest_issue(i) for i in issue_ids}
    fakes.seed("okdesk", {"contacts": {"11771": contact}, "issues": issues})
    user = dict(fixture_json("bitrix24/user_get_by_email.json")["result"][0])
    user["EMAIL"] = SENTINEL_EMAIL
    fakes.seed("bitrix", {"users": [user], "user_tokens": {USER_TOKEN: USER_ID}})


class Portal:
    """Plays Okdesk and Bitrix24 towards the service, keeping every answer."""

    def __init__(self, service: Service, fakes: Fakes) -> None:
        self.send = service.senders(client_id=SENTINEL_CLIENT_ID)
        self.fakes = fakes
        self.answers: list[httpx.Response] = []

    def _keep(self, response: httpx.Response) -> int:
        self.answers.append(response)
        return response.status_code

    def webhook(self, payload: Any, *, in_header: bool = False, token: str = "") -> int:
        """POST a webhook as Okdesk does, with the secret in the URL or in a header."""
        token = token or SENTINEL_WEBHOOK_TOKEN
        return self._keep(self.send.webhook(payload, token=token, in_header=in_header))

    def event(self, body: bytes, *, token: str = SENTINEL_EVENTS_TOKEN) -> int:
        """POST an event as Bitrix24 does: our portal, CLIENT_ID appended to the handler URL."""
        return self._keep(self.send.event(body, token=token))

    def raw(self, path: str, body: bytes, content_type: str, token: str) -> int:
        """POST any body."""
        headers = {"content-type": content_type}
        return self._keep(
            self.send.post(path, params={"token": token}, content=body, headers=headers)
        )

    def invitation(self, issue_id: int) -> dict[str, Any] | None:
        """The invitation sent for a ticket, while it still has its buttons."""
        for message in self.fakes.state("bitrix")["messages"].values():
            if f"№{issue_id}" in message["MESSAGE"] and message.get("KEYBOARD"):
                return dict(message)
        return None

    def rates(self) -> list[tuple[int, str]]:
        """The ratings Okdesk received."""
        posts = self.fakes.state("okdesk")["rate_posts"]
        return sorted((int(issue), str(body["rate"])) for issue, body in posts)


def _sentinel_env(fakes: Fakes, database_url: str) -> dict[str, str]:
    """The service's environment with every secret a sentinel, logging everything."""
    return service_env(
        fakes,
        database_url,
        free_port(),
        OKDESK_API_TOKEN=SENTINEL_API_TOKEN,
        OKDESK_WEBHOOK_TOKEN=SENTINEL_WEBHOOK_TOKEN,
        BITRIX_EVENTS_TOKEN=SENTINEL_EVENTS_TOKEN,
        BITRIX_CLIENT_ID=SENTINEL_CLIENT_ID,
        LOG_LEVEL="DEBUG",
    )


def _rate_by_click_and_by_reply(portal: Portal) -> str:
    """Ticket 101 rated by a click, 102 by a typed reply (its webhook's secret in the header);
    the survey token of 101."""
    assert portal.webhook(closed_webhook(101)) == 200
    wait_for(lambda: portal.invitation(101) is not None)
    invitation = portal.invitation(101)
    assert invitation is not None
    token = str(invitation["KEYBOARD"]["BUTTONS"][0]["COMMAND_PARAMS"]).split(":")[0]
    assert portal.event(click_body(f"{token}:4")) == 200
    wait_for(lambda: portal.rates() == [(101, "good")])
    assert portal.webhook(closed_webhook(102), in_header=True) == 200
    wait_for(lambda: portal.invitation(102) is not None)
    assert portal.event(reply_body("5 - спасибо", message_id=9001)) == 200
    wait_for(lambda: portal.rates() == [(101, "good"), (102, "good")])
    return token


def _send_forged_and_malformed(portal: Portal, token: str) -> None:
    """Forged and malformed requests, carrying the secrets and the e-mail address."""
    forged = click_body(f"{token}:1") + f"&email={SENTINEL_EMAIL}".encode()
    assert portal.event(forged, token="forged-" + SENTINEL_EVENTS_TOKEN) == 403
    wrong_app = click_body(f"{token}:1").replace(b"rating-bot-acme", b"forged-app")
    assert portal.event(wrong_app) == 403
    assert portal.webhook(closed_webhook(103), token=SENTINEL_WEBHOOK_TOKEN + "x") == 401
    malformed = (
        f"event=ONIMBOTMESSAGEADD&auth[application_token]={SENTINEL_CLIENT_ID}"
        f"&data[PARAMS]]x[={SENTINEL_EMAIL}&data[PARAMS][MESSAGE]={SENTINEL_EMAIL}"
    ).encode()
    assert portal.event(malformed) == 400
    not_json = f'{{"contact": "{SENTINEL_EMAIL}", {SENTINEL_API_TOKEN}'.encode()
    assert portal.raw(WEBHOOK, not_json, "application/json", SENTINEL_WEBHOOK_TOKEN) == 400
    bad_issue = closed_webhook(104)
    bad_issue["issue"]["id"] = SENTINEL_EMAIL
    assert portal.webhook(bad_issue) == 400
    # A secret in the path itself reaches the access line, masked.
    wrong_path = f"{WEBHOOK}/{SENTINEL_WEBHOOK_TOKEN}"
    assert portal.raw(wrong_path, b"{}", "application/json", SENTINEL_WEBHOOK_TOKEN) == 404


def _assert_nothing_stored_leaks(database_url: str) -> None:
    """No stored text holds a secret or an e-mail address."""
    engine = create_db_engine(database_url, pool_size=1)
    try:
        cells = list(text_cells(engine))
    finally:
        engine.dispose()
    assert {table for table, _, _ in cells} >= {"survey", "job", "seen_event", "service_status"}
    leaked = [(t, c, v) for t, c, v in cells if _leaks(v) or EMAIL.search(v)]
    assert leaked == []


def test_no_secret_or_e_mail_reaches_logs_output_or_storage(
    database_url: str, tmp_path: Path
) -> None:
    with fakes_process(
        "--api-token", SENTINEL_API_TOKEN, "--webhook-path", f"/rest/1/{SENTINEL_HOOK_CODE}/"
    ) as fakes:
        _seed(fakes, [101, 102])
        env = _sentinel_env(fakes, database_url)
        assert SENTINEL_HOOK_CODE in env["BITRIX_WEBHOOK_URL"]
        registration = register_bot(env, tmp_path)
        assert "BITRIX_BOT_ID=" in registration
        service = Service(env, tmp_path / "service.log")
        service.start()
        portal = Portal(service, fakes)
        try:
            token = _rate_by_click_and_by_reply(portal)
            _send_forged_and_malformed(portal, token)
            assert httpx.get(service.url + "/healthz").status_code == 200
            wait_for(lambda: _all_jobs_done(database_url))
        finally:
            service.stop()

    log = service.log_path.read_text(encoding="utf-8", errors="replace")
    # The log is the real thing: at DEBUG (the service says so at start, in a DEBUG line), and
    # an access line for each refused request (its path, never its query, where the tokens
    # travel).
    assert " DEBUG " in log
    assert "method=POST path=/api/v1/bitrix/events status=403" in log
    assert "method=POST path=/api/v1/okdesk/webhook status=401" in log
    assert "method=POST path=/api/v1/okdesk/webhook/*** status=404" in log
    assert "?token=" not in log
    assert "survey.rating_sent" in log
    assert _leaks(log) == {}, _leaks(log)
    assert _leaks(registration) == {}, registration
    answers = "\n".join(r.text for r in portal.answers)
    assert _leaks(answers) == {}, answers
    _assert_nothing_stored_leaks(database_url)


def test_a_client_id_with_url_reserved_characters_is_refused_at_start_without_echo(
    tmp_path: Path,
) -> None:
    # Bitrix24 appends CLIENT_ID to the handler URL unencoded and parses it back: a `+ / =`
    # would mean no event ever arrives. The start is refused, naming what is allowed.
    client_id = "Zm9v+YmFy/c2VudGluZWwtY2lk="  # as `openssl rand -base64` makes them
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'rating.db'}",
        "OKDESK_URL": f"http://127.0.0.1:{free_port()}/",
        "OKDESK_API_TOKEN": SENTINEL_API_TOKEN,
        "OKDESK_WEBHOOK_TOKEN": SENTINEL_WEBHOOK_TOKEN,
        "BITRIX_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/rest/1/{SENTINEL_HOOK_CODE}/",
        "BITRIX_CLIENT_ID": client_id,
        "BITRIX_EVENTS_TOKEN": SENTINEL_EVENTS_TOKEN,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bridge"],
        cwd=tmp_path,
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "BITRIX_CLIENT_ID" in done.stderr and "A-Z" in done.stderr
    assert "Traceback" not in done.stderr
    output = done.stdout + done.stderr
    leaked = sorted(form for form in _forms(client_id) if form.lower() in output.lower())
    assert leaked == [], output


def _all_jobs_done(database_url: str) -> bool:
    engine = create_db_engine(database_url, pool_size=1)
    try:
        return all(job.state == JobState.DONE for job in jobs(engine))
    finally:
        engine.dispose()
