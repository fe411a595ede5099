"""An added portal's installation is pinned: by `portal add --member-id`, or else by the first
event that passed every other check of that portal (its route, events secret and CLIENT_ID).
An event naming another installation is then refused for that portal, through real processes
against two fake portals."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlmodel import select

from harness.payloads import event_body
from harness.processes import Service, register_bot
from storage.db import create_db_engine, transaction
from storage.portals import Portal
from tests.portals.running import ACME, Portals, two_portals

OTHER_INSTALLATION = "f" * 32


def _member(url: str, name: str) -> str | None:
    engine = create_db_engine(url, pool_size=1)
    try:
        with transaction(engine) as session:
            row = session.exec(select(Portal).where(Portal.name == name)).one()
            return row.member_id
    finally:
        engine.dispose()


def _click(portals: Portals, member_id: str) -> httpx.Response:
    """A click through acme's own route, right in all but (maybe) its installation."""
    (bot,) = portals.fakes.state("bitrix:1")["bots"].values()
    body = event_body(
        "ONIMCOMMANDADD_webhook_bot",
        **{
            "data[COMMAND][103][COMMAND_PARAMS]": "nosuchtoken0000:4",
            "data[COMMAND][103][BOT_ID]": str(bot["ID"]),
            "auth[domain]": "127.0.0.1",
            "auth[member_id]": member_id,
            "auth[application_token]": bot["CLIENT_ID"],
        },
    )
    headers = {"content-type": "application/x-www-form-urlencoded"}
    return httpx.post(bot["EVENT_HANDLER"], content=body, headers=headers, timeout=10)


def _running(portals: Portals, tmp_path: Path, *add: str) -> Service:
    register_bot(portals.env, tmp_path)
    added = portals.admin("portal", "add", "acme", portals.client_webhook, *add)
    assert added.code == 0, added.out
    assert portals.admin("portal", "map", str(ACME), "acme").code == 0
    service = Service(portals.env, tmp_path / "service.log")
    service.start()
    return service


def test_the_first_genuine_event_pins_the_portals_installation(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        genuine = portals.fakes.state("bitrix:1")["member_id"]
        service = _running(portals, tmp_path)
        try:
            before = _member(database_url, "acme")
            typed = portals.fakes.control("bitrix:1", "write", {"user_id": 27, "text": "привет"})
            pinned = _member(database_url, "acme")
            other = _click(portals, OTHER_INSTALLATION)
            same = _click(portals, genuine)
        finally:
            service.stop()
    assert before is None
    assert typed == {"delivered": True, "status": 200}
    assert pinned == genuine
    assert other.status_code == 403, other.text
    assert same.status_code == 200, same.text
    assert _member(database_url, "default") is None


def test_a_member_id_given_to_portal_add_refuses_another_installations_events(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        service = _running(portals, tmp_path, "--member-id", OTHER_INSTALLATION)
        try:
            typed = portals.fakes.control("bitrix:1", "write", {"user_id": 27, "text": "привет"})
            bad = portals.admin(
                "portal", "add", "acme", portals.client_webhook, "--member-id", "a b"
            )
        finally:
            service.stop()
    assert typed == {"delivered": True, "status": 403}
    assert _member(database_url, "acme") == OTHER_INSTALLATION
    assert bad.code == 2 and "MEMBER_ID must be" in bad.out
