"""One portal's trouble stays its own: while the client's portal answers 503 to everything,
the 200 closures of the settings' portal are all invited, each once, and the client's surveys
wait for their portal (retried, never failed or sent elsewhere); while its server hangs, the
settings' portal's people are invited at once. The same while Bitrix24 has blocked the
client's portal (OVERLOAD_LIMIT) or its administrator deleted our bot: /readyz says
`degraded` (200) naming that portal, /metrics shows it by portal, and people of the other
portal are invited and answer."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

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
        service = _serving(portals, tmp_path, HOME_TICKETS + ACME_TICKETS)
        for method in ASKED:
            portals.fakes.fail("bitrix:1", method, list(DOWN))
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
    assert _states(database_url, ACME_TICKETS) == {"inviting": len(ACME_TICKETS)}


SLOW_HOME = list(range(5401, 5421))
SLOW_ACME = list(range(6401, 6421))


def test_a_hanging_portal_never_holds_the_other_portals_requests(
    database_url: str, tmp_path: Path
) -> None:
    """Every request to the client's portal hangs (its server answers after 15 s, past the
    HTTP timeout and the test's window): the settings' portal's people are invited at once.
    Before, the portals shared one cap on Bitrix24 requests in flight, and the client's held
    every place of it."""
    # Two places per portal: the client's two invitation batches would fill a shared cap.
    # SHUTDOWN_GRACE: the client's requests still hang when the test stops the service.
    settings = {"BITRIX_MAX_IN_FLIGHT": "2", "HTTP_TIMEOUT": "10s", "SHUTDOWN_GRACE": "1s"}
    with two_portals(database_url, tmp_path, **settings) as portals:
        service = _serving(portals, tmp_path, SLOW_HOME + SLOW_ACME)
        # Past the HTTP timeout and the test's window, and over soon after (the fakes' own
        # stop waits for the requests it is still answering).
        portals.fakes.control("bitrix:1", "latency", {"latency": 15.0})
        service.start()
        try:
            send = service.senders()
            for issue_id in SLOW_ACME:
                assert send.webhook(closed(issue_id, ACME)).status_code == 200
            time.sleep(2.0)  # the client's lookups are on their way, and hang
            for issue_id in SLOW_HOME:
                assert send.webhook(closed(issue_id, HOME)).status_code == 200
            # Within the 10 s HTTP timeout that would free a shared place.
            wait_for(lambda: set(_invited(portals, "bitrix")) == set(SLOW_HOME), within=8)
            acme = _invited(portals, "bitrix:1")
        finally:
            service.stop()
    assert not acme


def _states(database_url: str, issue_ids: list[int]) -> Counter[str]:
    """How many of these tickets' surveys are in each state."""
    engine = create_db_engine(database_url, pool_size=1)
    try:
        return Counter(str(s.state) for s in surveys(engine) if s.issue_id in issue_ids)
    finally:
        engine.dispose()


HOME_FEW = list(range(5301, 5331))
ACME_FEW = list(range(6301, 6311))


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _metrics(service: Service) -> Samples:
    text = httpx.get(service.url + "/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _rates(portals: Portals, issue_id: int) -> list[str]:
    posts = portals.fakes.state("okdesk")["rate_posts"]
    return [body["rate"] for issue, body in posts if issue == issue_id]


def _home_invitation(portals: Portals, issue_id: int) -> dict[str, Any]:
    return next(
        m
        for m in portals.fakes.state("bitrix")["messages"].values()
        if m.get("KEYBOARD") and f"№{issue_id}" in m["MESSAGE"]
    )


def _status(service: Service) -> str:
    return str(httpx.get(service.url + "/readyz", timeout=10).json()["status"])


def _serving(portals: Portals, tmp_path: Path, issue_ids: list[int]) -> Service:
    portals.fakes.seed_tickets(issue_ids)
    register_bot(portals.env, tmp_path)
    assert portals.admin("portal", "add", "acme", portals.client_webhook).code == 0
    assert portals.admin("portal", "map", str(ACME), "acme").code == 0
    return Service(portals.env, tmp_path / "service.log")


def test_one_portals_overload_limit_pauses_only_that_portal(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path, BITRIX_BLOCK_PROBE_INTERVAL="2s") as portals:
        service = _serving(portals, tmp_path, HOME_FEW + ACME_FEW)
        portals.fakes.seed("bitrix:1", {"overloaded": True})  # Bitrix24 blocked acme by hand
        service.start()
        try:
            send = service.senders()
            for issue_id in ACME_FEW:
                assert send.webhook(closed(issue_id, ACME)).status_code == 200
            for issue_id in HOME_FEW:
                assert send.webhook(closed(issue_id, HOME)).status_code == 200
            wait_for(lambda: set(_invited(portals, "bitrix")) == set(HOME_FEW), within=90)
            # A person of the settings' portal answers while acme is blocked.
            pressed = {"message_id": _home_invitation(portals, HOME_FEW[0])["ID"], "user_id": 27}
            assert portals.fakes.control("bitrix", "press", {**pressed, "button": 4})["status"]
            wait_for(lambda: _rates(portals, HOME_FEW[0]) == ["good"])
            wait_for(lambda: _status(service) == "degraded")
            ready = httpx.get(service.url + "/readyz", timeout=10)
            samples = _metrics(service)
            waiting = _states(database_url, ACME_FEW)
            portals.fakes.seed("bitrix:1", {"overloaded": False})  # lifted: the probe finds it
            wait_for(lambda: set(_invited(portals, "bitrix:1")) == set(ACME_FEW), within=60)
            wait_for(lambda: _status(service) == "ready")
            after = httpx.get(service.url + "/readyz", timeout=10).json()
            invited = [_invited(portals, "bitrix"), _invited(portals, "bitrix:1")]
        finally:
            service.stop()
    assert waiting == {"inviting": len(ACME_FEW)}
    assert [set(each.values()) for each in invited] == [{1}, {1}]
    _blocked_acme_shown(ready.json(), samples)
    assert ready.status_code == 200 and after["status"] == "ready"
    assert after["portals"] == {"default": "active", "acme": "active"} and after["degraded"] == []


def _blocked_acme_shown(body: dict[str, Any], samples: Samples) -> None:
    """/readyz and /metrics while Bitrix24 blocks acme: acme named, the service ready."""
    assert body["status"] == "degraded" and body["reasons"] == []
    assert body["checks"]["portal"] == "ok"
    (trouble,) = body["degraded"]
    assert trouble.startswith("portal acme: blocked by Bitrix24 (OVERLOAD_LIMIT)"), trouble
    assert body["portals"]["default"] == "active"
    assert body["portals"]["acme"].startswith("blocked until ")
    state = "okdesk_rating_portal_state"
    assert samples[(state, (("portal", "acme"), ("state", "blocked")))] == 1
    assert samples[(state, (("portal", "acme"), ("state", "active")))] == 0
    assert samples[(state, (("portal", "default"), ("state", "active")))] == 1
    waiting_there = "okdesk_rating_surveys_waiting"
    assert samples[(waiting_there, (("portal", "default"),))] == len(HOME_FEW) - 1
    assert samples[(waiting_there, (("portal", "acme"),))] == 0
    refused = (
        "okdesk_rating_bitrix_requests_total",
        (("outcome", "transient"), ("portal", "acme")),
    )
    assert samples[refused] >= 1
    budgets = {k[1] for k in samples if k[0] == "okdesk_rating_bitrix_request_budget_left"}
    assert budgets == {(("portal", "acme"),), (("portal", "default"),)}


def test_a_client_deleting_our_bot_degrades_only_its_portal(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        service = _serving(portals, tmp_path, [6401, 5401])
        service.start()
        try:
            send = service.senders()
            assert send.webhook(closed(6401, ACME)).status_code == 200
            wait_for(lambda: set(_invited(portals, "bitrix:1")) == {6401})
            # acme's administrator deletes the bot: Bitrix24 posts ONIMBOTDELETE to its route.
            deleted = portals.fakes.control("bitrix:1", "delete_bot", {})
            assert deleted == {"deleted": True, "status": 200}
            wait_for(lambda: _status(service) == "degraded")
            assert send.webhook(closed(5401, HOME)).status_code == 200
            wait_for(lambda: set(_invited(portals, "bitrix")) == {5401})
            pressed = {"message_id": _home_invitation(portals, 5401)["ID"], "user_id": 27}
            assert portals.fakes.control("bitrix", "press", {**pressed, "button": 4})["status"]
            wait_for(lambda: _rates(portals, 5401) == ["good"])
            ready = httpx.get(service.url + "/readyz", timeout=10)
            home_bots = portals.fakes.state("bitrix")["bots"]
        finally:
            service.stop()
    body = ready.json()
    assert ready.status_code == 200 and body["status"] == "degraded"
    assert body["checks"]["bot"] == "ok" and body["reasons"] == []
    assert body["portals"] == {"default": "active", "acme": "bot_deleted"}
    (trouble,) = body["degraded"]
    assert trouble.startswith("portal acme: its bot was deleted"), trouble
    assert home_bots  # the settings' portal's bot is there, and its state untouched
    assert "Traceback" not in (tmp_path / "service.log").read_text()
