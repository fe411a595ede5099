"""Two portals through real processes: each Okdesk company's people are asked in their own
portal, user 27 of one portal and user 27 of the other are two people, and nothing that comes
through one portal touches the other's survey. A company connected to no portal, with the
`default` portal removed, is undeliverable with the reason the operator sees."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from harness.payloads import event_body
from harness.processes import Service, register_bot
from harness.waiting import wait_for
from storage.db import create_db_engine
from storage.tables import Survey
from tests.databases import surveys
from tests.portals.running import ACME, HOME, Portals, closed, two_portals

ADMIN = "admin-token-0123456789abcdef0123"


def _invitation(portals: Portals, which: str, issue_id: int) -> dict[str, Any] | None:
    for message in portals.fakes.state(which)["messages"].values():
        if f"№{issue_id}" in message["MESSAGE"] and message.get("KEYBOARD"):
            return dict(message)
    return None


def _token(message: dict[str, Any]) -> str:
    return str(message["KEYBOARD"]["BUTTONS"][0]["COMMAND_PARAMS"]).split(":")[0]


def _rates(portals: Portals, issue_id: int) -> list[str]:
    posts = portals.fakes.state("okdesk")["rate_posts"]
    return [body["rate"] for issue, body in posts if issue == issue_id]


def _survey(url: str, issue_id: int) -> Survey:
    engine = create_db_engine(url, pool_size=1)
    try:
        return next(s for s in surveys(engine) if s.issue_id == issue_id)
    finally:
        engine.dispose()


@contextmanager
def _serving(portals: Portals, tmp_path: Path, issue_ids: list[int]) -> Iterator[Service]:
    """The settings' bot registered, `acme` added for company ACME, the service running."""
    portals.fakes.seed_tickets(issue_ids)
    register_bot(portals.env, tmp_path)
    assert portals.admin("portal", "add", "acme", portals.client_webhook).code == 0
    assert portals.admin("portal", "map", str(ACME), "acme").code == 0
    service = Service(portals.env, tmp_path / "service.log")
    service.start()
    try:
        yield service
    finally:
        service.stop()
    log = (tmp_path / "service.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    # The client's secrets, opened by the service, never reach its log.
    (bot,) = portals.fakes.state("bitrix:1")["bots"].values()
    code = portals.client_webhook.rstrip("/").rsplit("/", 1)[-1]
    token = bot["EVENT_HANDLER"].split("token=")[-1].split("&")[0]
    assert not {code, bot["CLIENT_ID"], token} & {w for w in _words(log)}


def _words(log: str) -> set[str]:
    """Every run of URL-safe characters in the log (where a secret would show whole)."""
    return set(re.findall(r"[A-Za-z0-9_-]+", log))


def _forged_click(portals: Portals, params: str) -> httpx.Response:
    """A click through acme's own route, authentic in every way, naming a button's params."""
    (bot,) = portals.fakes.state("bitrix:1")["bots"].values()
    member = portals.fakes.state("bitrix:1")["member_id"]
    body = event_body(
        "ONIMCOMMANDADD_webhook_bot",
        **{
            "data[COMMAND][103][COMMAND_PARAMS]": params,
            "data[COMMAND][103][BOT_ID]": str(bot["ID"]),
            "auth[domain]": "127.0.0.1",
            "auth[member_id]": member,
            "auth[application_token]": bot["CLIENT_ID"],
        },
    )
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return httpx.post(bot["EVENT_HANDLER"], content=body, headers=headers, timeout=10)


def test_each_company_is_asked_in_its_own_portal_and_answers_stay_there(
    database_url: str, tmp_path: Path
) -> None:
    with (
        two_portals(database_url, tmp_path) as portals,
        _serving(portals, tmp_path, [101, 102]) as service,
    ):
        send = service.senders()
        assert send.webhook(closed(101, ACME)).status_code == 200
        assert send.webhook(closed(102, HOME)).status_code == 200
        wait_for(lambda: _invitation(portals, "bitrix:1", 101) is not None)
        wait_for(lambda: _invitation(portals, "bitrix", 102) is not None)
        acme, home = _invitation(portals, "bitrix:1", 101), _invitation(portals, "bitrix", 102)
        assert acme is not None and home is not None
        assert acme["DIALOG_ID"] == home["DIALOG_ID"] == "27"  # user 27 of each portal
        assert _invitation(portals, "bitrix", 101) is None
        assert _invitation(portals, "bitrix:1", 102) is None
        # A click through acme's route naming the other portal's button changes nothing.
        assert _forged_click(portals, f"{_token(home)}:1").status_code == 200
        # acme's user 27 types «4»: it rates acme's survey, never the other user 27's.
        typed = portals.fakes.control("bitrix:1", "write", {"user_id": 27, "text": "4"})
        assert typed == {"delivered": True, "status": 200}
        wait_for(lambda: _rates(portals, 101) == ["good"])
        assert _rates(portals, 102) == []
        assert _survey(database_url, 102).state == "awaiting"
        pressed = {"message_id": home["ID"], "user_id": 27, "button": 1}
        assert portals.fakes.control("bitrix", "press", pressed)["status"] == 200
        wait_for(lambda: _rates(portals, 102) == ["bad"])
        ready = httpx.get(service.url + "/readyz").json()
    assert ready["portals"] == {"default": "active", "acme": "active"}
    assert _survey(database_url, 101).score == 4
    assert _survey(database_url, 102).score == 2


def test_without_a_default_portal_an_unconnected_company_is_undeliverable(
    database_url: str, tmp_path: Path
) -> None:
    with (
        two_portals(database_url, tmp_path, ADMIN_TOKEN=ADMIN) as portals,
        _serving(portals, tmp_path, [103, 104]) as service,
    ):
        assert portals.admin("portal", "remove", "default").code == 0
        send = service.senders()
        assert send.webhook(closed(103, HOME)).status_code == 200
        assert send.webhook(closed(104, ACME)).status_code == 200
        wait_for(lambda: _invitation(portals, "bitrix:1", 104) is not None)
        wait_for(lambda: _survey(database_url, 103).state == "undeliverable")
        page = httpx.get(service.url + "/admin", headers={"Authorization": f"Bearer {ADMIN}"})
        home = portals.fakes.state("bitrix")
        ready = httpx.get(service.url + "/readyz").json()
    assert ready["portals"] == {"default": "removed", "acme": "active"}
    assert home["bots"] == {} and not any("№103" in m["MESSAGE"] for m in home["messages"].values())
    unconnected = _survey(database_url, 103)
    assert unconnected.reason == "company not connected to a portal"
    assert page.status_code == 200, page.text
    assert "Компания не подключена ни к одному порталу Битрикс24" in page.text
