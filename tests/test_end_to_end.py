"""The running service, as processes, against fake Okdesk and Bitrix24 servers over HTTP:
webhook → invitation → click (or typed reply) → Okdesk rating → invitation edited; silence →
default rating; forged and foreign events refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import (
    EVENTS_TOKEN,
    WEBHOOK_TOKEN,
    click_body,
    closed_webhook,
    reply_body,
)
from tests.processes import (
    Fakes,
    Service,
    fakes_process,
    free_port,
    register_bot,
    service_env,
    wait_for,
)


def _event(service: Service, body: bytes, token: str = EVENTS_TOKEN) -> httpx.Response:
    return httpx.post(
        service.url + "/api/v1/bitrix/events",
        params={"token": token, "CLIENT_ID": "rating-bot-acme"},
        content=body.replace(b"acme.bitrix24.ru", b"127.0.0.1"),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def _webhook(service: Service, payload: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        service.url + "/api/v1/okdesk/webhook", params={"token": WEBHOOK_TOKEN}, json=payload
    )


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


def test_the_whole_loop_through_real_processes(database_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes:
        fakes.seed_tickets([101, 102, 103])
        env = service_env(fakes, database_url, free_port())
        assert "BITRIX_BOT_ID=567" in register_bot(env, tmp_path)
        service = Service(env, tmp_path / "service.log")
        service.start()
        try:
            # Click on 4: Okdesk gets "good" once, the invitation loses its buttons.
            assert _webhook(service, closed_webhook(101)).json() == {"result": "accepted"}
            wait_for(lambda: _invitation(fakes, 101) is not None)
            invitation = _invitation(fakes, 101)
            assert invitation is not None and invitation["DIALOG_ID"] == "27"
            click = click_body(f"{_token(invitation)}:4")
            assert _event(service, click).status_code == 200
            wait_for(lambda: _rates(fakes, 101) == ["good"])
            edited = fakes.state("bitrix")["messages"][str(invitation["ID"])]
            wait_for(
                lambda: not fakes.state("bitrix")["messages"][str(invitation["ID"])].get("KEYBOARD")
            )
            edited = fakes.state("bitrix")["messages"][str(invitation["ID"])]
            assert edited["MESSAGE"] == "Спасибо! Ваша оценка заявки №101: 4 из 5."
            assert _event(service, click).status_code == 200

            # A typed "5".
            _webhook(service, closed_webhook(102))
            wait_for(lambda: _invitation(fakes, 102) is not None)
            assert _event(service, reply_body("5", message_id=777)).status_code == 200
            wait_for(lambda: _rates(fakes, 102) == ["good"])

            # Refused: forged URL token, foreign domain, another user's click.
            _webhook(service, closed_webhook(103))
            wait_for(lambda: _invitation(fakes, 103) is not None)
            third = _invitation(fakes, 103)
            assert third is not None
            forged = _event(
                service, click_body(f"{_token(third)}:1"), token="forged-token-0000000000"
            )
            assert forged.status_code == 403
            foreign = httpx.post(
                service.url + "/api/v1/bitrix/events",
                params={"token": EVENTS_TOKEN},
                content=click_body(f"{_token(third)}:1").replace(
                    b"acme.bitrix24.ru", b"evil.example"
                ),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert foreign.status_code == 403
            assert _event(service, click_body(f"{_token(third)}:1", user_id=45)).status_code == 200
            wait_for(lambda: len(fakes.state("bitrix")["messages"]) == 4)
            assert _rates(fakes, 103) == []
            assert _rates(fakes, 101) == ["good"]
        finally:
            service.stop()


def test_silence_gets_the_default_through_real_processes(database_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes:
        fakes.seed_tickets([201])
        env = service_env(fakes, database_url, free_port(), RATING_TIMEOUT="2s")
        register_bot(env, tmp_path)
        service = Service(env, tmp_path / "service.log")
        service.start()
        try:
            _webhook(service, closed_webhook(201))
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
