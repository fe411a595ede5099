"""One portal's trouble stays its own: while the client's portal answers 503 to everything,
the 200 closures of the settings' portal are all invited, each once, and the client's surveys
wait for their portal (retried, never failed or sent elsewhere)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from harness.processes import Service, register_bot
from harness.waiting import wait_for
from storage.db import create_db_engine
from tests.databases import surveys
from tests.portals.running import ACME, HOME, Portals, closed, two_portals

HOME_TICKETS = list(range(5001, 5201))
ACME_TICKETS = list(range(6001, 6021))
DOWN = [503] * 5000
ASKED = ("batch", "user.get", "imbot.message.add", "imbot.message.update", "imbot.bot.list")


def _invited(portals: Portals, which: str) -> Counter[int]:
    """How many invitations each ticket got on one portal."""
    found: Counter[int] = Counter()
    for message in portals.fakes.state(which)["messages"].values():
        if message.get("KEYBOARD") and "№" in message["MESSAGE"]:
            number = message["MESSAGE"].split("№")[1].split()[0].strip(".,:;»")
            found[int("".join(ch for ch in number if ch.isdigit()))] += 1
    return found


def test_a_portal_down_never_delays_the_other_portals_invitations(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        portals.fakes.seed_tickets(HOME_TICKETS + ACME_TICKETS)
        register_bot(portals.env, tmp_path)
        assert portals.admin("portal", "add", "acme", portals.client_webhook).code == 0
        assert portals.admin("portal", "map", str(ACME), "acme").code == 0
        for method in ASKED:
            portals.fakes.fail("bitrix:1", method, list(DOWN))
        service = Service(portals.env, tmp_path / "service.log")
        service.start()
        try:
            send = service.senders()
            for issue_id in ACME_TICKETS:
                assert send.webhook(closed(issue_id, ACME)).status_code == 200
            for issue_id in HOME_TICKETS:
                assert send.webhook(closed(issue_id, HOME)).status_code == 200
            wait_for(lambda: set(_invited(portals, "bitrix")) == set(HOME_TICKETS), within=90)
            home, acme = _invited(portals, "bitrix"), _invited(portals, "bitrix:1")
        finally:
            service.stop()
    assert set(home.values()) == {1} and acme == Counter()
    engine = create_db_engine(database_url, pool_size=1)
    try:
        states = Counter(s.state for s in surveys(engine) if s.issue_id in ACME_TICKETS)
    finally:
        engine.dispose()
    assert states == {"inviting": len(ACME_TICKETS)}
