"""The running service on imbot.v2 (fetch mode, no PUBLIC_URL), as processes, against the fake
portal (with imbot.v2's 2 requests a second) over HTTP: registration, invitation, a click, a
typed reply, the buttons removed; and a v1 invitation answered after switching to v2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from harness.constants import USER_ID
from harness.payloads import click_body, closed_webhook
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    register_bot,
    service_env,
)
from harness.v2 import BOT_TOKEN
from harness.waiting import wait_for

V2 = {"BITRIX_API": "v2", "BITRIX_BOT_TOKEN": BOT_TOKEN, "BITRIX_POLL_INTERVAL": "1s"}


def _invitation(fakes: Fakes, issue_id: int) -> dict[str, Any] | None:
    for message in fakes.state("bitrix")["messages"].values():
        if f"№{issue_id}" in message["MESSAGE"] and message.get("KEYBOARD"):
            return dict(message)
    return None


def _rates(fakes: Fakes, issue_id: int) -> list[str]:
    posts = fakes.state("okdesk")["rate_posts"]
    return [body["rate"] for issue, body in posts if issue == issue_id]


def _message(fakes: Fakes, message_id: int) -> dict[str, Any]:
    return dict(fakes.state("bitrix")["messages"][str(message_id)])


def _v2_env(fakes: Fakes, database_url: str) -> dict[str, str]:
    env = service_env(fakes, database_url, free_port(), **V2)
    del env["PUBLIC_URL"]
    return env


def _click_and_reply(fakes: Fakes, service: Service) -> None:
    """A click on 4 for ticket 101, a typed 5 for ticket 102; both rated, buttons removed."""
    send = service.senders()
    send.webhook(closed_webhook(101))
    wait_for(lambda: _invitation(fakes, 101) is not None, within=30)
    invitation = _invitation(fakes, 101)
    assert invitation is not None and invitation["KEYBOARD"]["BOT_ID"] == invitation["BOT_ID"]
    press = {"message_id": invitation["ID"], "user_id": USER_ID, "button": 3}
    httpx.post(fakes.bitrix + "/_fake/v2/click", json=press).raise_for_status()
    wait_for(lambda: _rates(fakes, 101) == ["good"], within=30)
    wait_for(lambda: not _message(fakes, invitation["ID"]).get("KEYBOARD"), within=30)
    thanks = _message(fakes, invitation["ID"])["MESSAGE"]
    assert thanks == "Спасибо! Ваша оценка заявки №101: 4 из 5."
    send.webhook(closed_webhook(102))
    wait_for(lambda: _invitation(fakes, 102) is not None, within=30)
    typed = {"bot_id": invitation["BOT_ID"], "user_id": USER_ID, "text": "5"}
    httpx.post(fakes.bitrix + "/_fake/v2/type", json=typed).raise_for_status()
    wait_for(lambda: _rates(fakes, 102) == ["good"], within=30)
    wait_for(lambda: fakes.state("bitrix")["events_pending"] == 0, within=30)


def test_the_whole_loop_on_imbot_v2_without_a_public_url(database_url: str, tmp_path: Path) -> None:
    with fakes_process("--bitrix-api", "v2") as fakes:
        fakes.seed_tickets([101, 102])
        env = _v2_env(fakes, database_url)
        printed = register_bot(env, tmp_path)
        again = register_bot(env, tmp_path)
        bot_line = next(line for line in printed.splitlines() if "BITRIX_V2_BOT_ID=" in line)
        assert bot_line in again and "already registered, updated" in again
        service = Service(env, tmp_path / "service.log")
        service.start()
        try:
            _click_and_reply(fakes, service)
            ready = httpx.get(service.url + "/readyz").json()
            assert ready["checks"]["events"] == "ok"
            assert ready["bitrix_poll_lag_seconds"] is not None
        finally:
            service.stop()
    assert "Traceback" not in (tmp_path / "service.log").read_text(errors="replace")


def test_a_v1_invitation_is_answered_after_switching_to_v2(
    database_url: str, tmp_path: Path
) -> None:
    with fakes_process("--bitrix-api", "v2") as fakes:
        fakes.seed_tickets([301])
        v1_env = service_env(fakes, database_url, free_port())
        register_bot(v1_env, tmp_path)
        v1 = Service(v1_env, tmp_path / "v1.log")
        v1.start()
        try:
            v1.senders().webhook(closed_webhook(301))
            wait_for(lambda: _invitation(fakes, 301) is not None, within=30)
        finally:
            v1.stop()
        old = _invitation(fakes, 301)
        assert old is not None
        v2_env = {**_v2_env(fakes, database_url), "PUBLIC_URL": v1_env["PUBLIC_URL"]}
        # Issue 23.3: the v1 route stays open in v2 mode only while switching is configured.
        v2_env["BITRIX_SWITCHING_FROM_V1"] = "true"
        v2_env["PORT"] = v1_env["PORT"]
        register_bot(v2_env, tmp_path)
        v2 = Service(v2_env, tmp_path / "v2.log")
        v2.start()
        try:
            token = str(old["KEYBOARD"]["BUTTONS"][0]["COMMAND_PARAMS"]).split(":")[0]
            # The v1 bot still posts its buttons' clicks to the v1 events route.
            assert v2.senders().event(click_body(f"{token}:5")).status_code == 200
            wait_for(lambda: _rates(fakes, 301) == ["good"], within=30)
        finally:
            v2.stop()
