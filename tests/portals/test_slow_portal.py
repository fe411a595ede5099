"""A portal that is slow to answer holds only its own requests in flight: while every request
to the client's portal hangs (its server answers after a minute, past the HTTP timeout), the
settings' portal's people are invited at once. Before, the portals shared one cap on Bitrix24
requests in flight, and the client's hanging requests held every place of it."""

from __future__ import annotations

import time
from pathlib import Path

from harness.processes import Service, register_bot
from harness.waiting import wait_for
from tests.portals.running import ACME, HOME, closed, two_portals
from tests.portals.test_portal_trouble import _invited

HOME_TICKETS = list(range(5401, 5421))
ACME_TICKETS = list(range(6401, 6421))


def test_a_hanging_portal_never_holds_the_other_portals_requests(
    database_url: str, tmp_path: Path
) -> None:
    # Two places per portal: the client's two invitation batches would fill a shared cap.
    settings = {"BITRIX_MAX_IN_FLIGHT": "2", "HTTP_TIMEOUT": "10s"}
    with two_portals(database_url, tmp_path, **settings) as portals:
        portals.fakes.seed_tickets(HOME_TICKETS + ACME_TICKETS)
        register_bot(portals.env, tmp_path)
        assert portals.admin("portal", "add", "acme", portals.client_webhook).code == 0
        assert portals.admin("portal", "map", str(ACME), "acme").code == 0
        portals.fakes.control("bitrix:1", "latency", {"latency": 60.0})
        service = Service(portals.env, tmp_path / "service.log")
        service.start()
        try:
            send = service.senders()
            for issue_id in ACME_TICKETS:
                assert send.webhook(closed(issue_id, ACME)).status_code == 200
            time.sleep(2.0)  # the client's lookups are on their way, and hang
            for issue_id in HOME_TICKETS:
                assert send.webhook(closed(issue_id, HOME)).status_code == 200
            # Within the 10 s HTTP timeout that would free a shared place.
            wait_for(lambda: set(_invited(portals, "bitrix")) == set(HOME_TICKETS), within=8)
            acme = _invited(portals, "bitrix:1")
        finally:
            service.stop()
    assert not acme
