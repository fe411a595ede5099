"""The running service, as processes, against fake Okdesk and Bitrix24 servers over HTTP:
webhook → invitation → click (or typed reply) → Okdesk rating → invitation edited; silence →
default rating; forged and foreign events refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.constants import EVENTS_TOKEN, USER_ID
from harness.payloads import click_body, closed_webhook
from harness.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    register_bot,
    service_env,
)
from harness.senders import EVENTS, FORM_TYPE, Senders
from harness.waiting import wait_for


def _invitation(fakes: Fakes, issue_id: int) -> dict[str, Any] | None:
    for message in fakes.state("bitrix")["messages"].values():
        if f"№{issue_id}" in message["MESSAGE"] and message.get("KEYBOARD"):
            return dict(message)
    return None


def _token(message: dict[str, Any]) -> str:
    return str(message["KEYBOARD"]["BUTTONS"][0]["COMMAND_PARAMS"]).split(":")[0]


def _rates(fakes: Fakes, issue_id: int) -> list[str]:
    return [
        body["rate"] for issue, body in fakes.state("okdesk")["rate_posts"] if issue == issue_id
    ]


def _rated_by_click(fakes: Fakes, send: Senders[httpx.Response]) -> None:
    """Click on 4: Okdesk gets "good" once, the invitation loses its buttons."""
    assert send.webhook(closed_webhook(101)).json() == {"result": "accepted"}
    wait_for(lambda: _invitation(fakes, 101) is not None)
    invitation = _invitation(fakes, 101)
    assert invitation is not None and invitation["DIALOG_ID"] == "27"
    click = click_body(f"{_token(invitation)}:4")
    assert send.event(click).status_code == 200
    wait_for(lambda: _rates(fakes, 101) == ["good"])
    wait_for(lambda: not fakes.state("bitrix")["messages"][str(invitation["ID"])].get("KEYBOARD"))
    edited = fakes.state("bitrix")["messages"][str(invitation["ID"])]
    assert edited["MESSAGE"] == "Спасибо! Ваша оценка заявки №101: 4 из 5."
    assert send.event(click).status_code == 200


def _refused(fakes: Fakes, send: Senders[httpx.Response]) -> None:
    """Refused: forged URL token, foreign domain, another user's click (not answered)."""
    send.webhook(closed_webhook(103))
    wait_for(lambda: _invitation(fakes, 103) is not None)
    third = _invitation(fakes, 103)
    assert third is not None
    forged = send.event(click_body(f"{_token(third)}:1"), token="forged-token-0000000000")
    assert forged.status_code == 403
    foreign = send.post(
        EVENTS,
        params={"token": EVENTS_TOKEN},
        content=click_body(f"{_token(third)}:1").replace(b"acme.bitrix24.ru", b"evil.example"),
        headers=FORM_TYPE,
    )
    assert foreign.status_code == 403
    assert send.event(click_body(f"{_token(third)}:1", user_id=45)).status_code == 200
    # The stranger is not written to (issue 23.7); the person's own click is what lands.
    assert send.event(click_body(f"{_token(third)}:5")).status_code == 200
    wait_for(lambda: _rates(fakes, 103) == ["good"])
    dialogs = {m["DIALOG_ID"] for m in fakes.state("bitrix")["messages"].values()}
    assert dialogs == {str(USER_ID)}


# By default the fake portal is as strict as the real one: a webhook bot's events carry no
# user token (bitrix24.md §12); the other reading (an OAuth application's events, with the
# person's token that `profile` checks) runs the same loop.
@pytest.mark.parametrize("tokens", [False, True], ids=["no_tokens", "with_tokens"])
def test_the_whole_loop_through_real_processes(
    database_url: str, tmp_path: Path, tokens: bool
) -> None:
    with fakes_process() as fakes:
        fakes.seed_tickets([101, 102, 103])
        fakes.control("bitrix", "event_tokens", {"enabled": tokens})
        env = service_env(fakes, database_url, free_port())
        assert "BITRIX_BOT_ID=567" in register_bot(env, tmp_path)
        service = Service(env, tmp_path / "service.log")
        service.start()
        send = service.senders()
        try:
            _rated_by_click(fakes, send)
            # A typed "5", as the portal posts it.
            send.webhook(closed_webhook(102))
            wait_for(lambda: _invitation(fakes, 102) is not None)
            typed = fakes.control("bitrix", "write", {"user_id": 27, "text": "5"})
            assert typed == {"delivered": True, "status": 200}
            wait_for(lambda: _rates(fakes, 102) == ["good"])
            profiles = fakes.state("bitrix")["calls_by_method"].get("profile", 0)
            assert profiles == (1 if tokens else 0)
            _refused(fakes, send)
            assert _rates(fakes, 101) == ["good"]
        finally:
            service.stop()


def test_silence_gets_the_default_through_real_processes(database_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes:
        fakes.seed_tickets([201])
        # Room for a busy machine to send the invitation first: a survey whose time runs out
        # uninvited gets its default with no invitation to close.
        env = service_env(fakes, database_url, free_port(), RATING_TIMEOUT="5s")
        register_bot(env, tmp_path)
        service = Service(env, tmp_path / "service.log")
        service.start()
        send = service.senders()
        try:
            send.webhook(closed_webhook(201))
            wait_for(lambda: _rates(fakes, 201) == ["good"], within=15)
            messages = fakes.state("bitrix")["messages"].values()
            (invitation,) = [m for m in messages if "№201" in m["MESSAGE"]]
            wait_for(
                lambda: (
                    "истекло" in fakes.state("bitrix")["messages"][str(invitation["ID"])]["MESSAGE"]
                )
            )
            ready = httpx.get(service.url + "/readyz").json()
            assert ready["status"] == "ready" and ready["worker_last_run"]
        finally:
            service.stop()
