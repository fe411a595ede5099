"""imbot.v2 fetch mode on two portals, through real processes: the settings' portal and a client
portal added with `portal add --api v2` while the service runs (and removed while it runs), each
bot's events fetched by a poller of its own. A click and a typed reply in each portal reach only
that portal's survey, each poller keeps its own offset, and while one portal's Event.get answers
503 the other's events are still read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlmodel import select

from bot.portals.ids import SPAN
from harness.processes import Service, register_bot
from harness.waiting import wait_for
from storage.db import create_db_engine, transaction
from storage.portals import Portal
from storage.tables import EventPoll
from tests.portals.running import ACME, HOME, Portals, closed, two_portals

CLIENT = "bitrix:1"


def _invitation(portals: Portals, which: str, issue_id: int) -> dict[str, Any] | None:
    for message in portals.fakes.state(which)["messages"].values():
        if f"№{issue_id}" in message["MESSAGE"] and message.get("KEYBOARD"):
            return dict(message)
    return None


def _invited(portals: Portals, which: str, issue_id: int) -> dict[str, Any]:
    wait_for(lambda: _invitation(portals, which, issue_id) is not None, within=60)
    found = _invitation(portals, which, issue_id)
    assert found is not None
    return found


def _rates(portals: Portals, issue_id: int) -> list[str]:
    posts = portals.fakes.state("okdesk")["rate_posts"]
    return [body["rate"] for issue, body in posts if issue == issue_id]


def _press(portals: Portals, which: str, message: dict[str, Any], button: int) -> None:
    press = {"message_id": message["ID"], "user_id": 27, "button": button}
    portals.fakes.control(which, "v2/click", press)


def _type(portals: Portals, which: str, bot_id: int, text: str) -> None:
    portals.fakes.control(which, "v2/type", {"bot_id": bot_id, "user_id": 27, "text": text})


def _rows(url: str) -> tuple[dict[int, EventPoll], dict[str, Portal]]:
    engine = create_db_engine(url, pool_size=1)
    try:
        with transaction(engine) as session:
            polls = {p.bot_id: p for p in session.exec(select(EventPoll)).all()}
            stored = {p.name: p for p in session.exec(select(Portal)).all()}
            return polls, stored
    finally:
        engine.dispose()


@contextmanager
def _serving(portals: Portals, tmp_path: Path, issue_ids: list[int]) -> Iterator[Service]:
    """The settings' v2 bot registered and the service running; then `acme` added on v2, and
    removed again at the end."""
    portals.fakes.seed_tickets(issue_ids)
    register_bot(portals.env, tmp_path)
    service = Service(portals.env, tmp_path / "service.log")
    service.start()
    try:
        added = portals.admin("portal", "add", "acme", portals.client_webhook, "--api", "v2")
        assert added.code == 0, added.out
        assert "API v2" in added.out and "fetched by the service" in added.out
        assert portals.admin("portal", "map", str(ACME), "acme").code == 0
        (bot,) = portals.fakes.state(CLIENT)["bots"].values()
        yield service
        # acme removed while the service runs: its poller stops and gives its lease up.
        assert portals.admin("portal", "remove", "acme").code == 0
        stopped = "bitrix.poller_stopped portal=acme"
        wait_for(lambda: stopped in (tmp_path / "service.log").read_text(), within=60)
        assert _rows(portals.env["DATABASE_URL"])[0][SPAN + 567].holder is None
    finally:
        service.stop()
    log = (tmp_path / "service.log").read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "bitrix.poller_started portal=acme" in log
    # The client's bot token and webhook code, opened by the service, never reach its log.
    code = portals.client_webhook.rstrip("/").rsplit("/", 1)[-1]
    assert bot["CLIENT_ID"] not in log and code not in log


def _one_portal_failing(portals: Portals, service: Service) -> tuple[int, list[str]]:
    """While the settings' portal's Event.get answers 503, a click in acme rates its survey;
    what waits unread on the failing portal, and what its own click rated."""
    portals.fakes.fail("bitrix", "imbot.v2.Event.get", [503] * 1000)
    send = service.senders()
    assert send.webhook(closed(105, ACME)).status_code == 200
    assert send.webhook(closed(106, HOME)).status_code == 200
    _press(portals, "bitrix", _invited(portals, "bitrix", 106), 4)
    _press(portals, CLIENT, _invited(portals, CLIENT, 105), 4)
    wait_for(lambda: _rates(portals, 105) == ["good"], within=60)
    return portals.fakes.state("bitrix")["events_pending"], _rates(portals, 106)


def test_v2_fetch_on_two_portals_each_answer_reaches_its_own_survey(
    database_url: str, tmp_path: Path
) -> None:
    with (
        two_portals(database_url, tmp_path, api="v2") as portals,
        _serving(portals, tmp_path, [101, 102, 103, 104, 105, 106]) as service,
    ):
        send = service.senders()
        assert send.webhook(closed(101, ACME)).status_code == 200
        assert send.webhook(closed(102, HOME)).status_code == 200
        acme, home = _invited(portals, CLIENT, 101), _invited(portals, "bitrix", 102)
        assert acme["DIALOG_ID"] == home["DIALOG_ID"] == "27"  # user 27 of each portal
        assert _invitation(portals, "bitrix", 101) is None
        assert _invitation(portals, CLIENT, 102) is None
        _press(portals, CLIENT, acme, 3)  # acme's user 27 clicks 4
        wait_for(lambda: _rates(portals, 101) == ["good"], within=60)
        _press(portals, "bitrix", home, 0)  # the other user 27 clicks 1
        wait_for(lambda: _rates(portals, 102) == ["bad"], within=60)
        # A typed «5» in acme rates acme's survey; a typed «1» in the other, the other's.
        assert send.webhook(closed(103, ACME)).status_code == 200
        assert send.webhook(closed(104, HOME)).status_code == 200
        _invited(portals, CLIENT, 103)
        _invited(portals, "bitrix", 104)
        _type(portals, CLIENT, int(acme["BOT_ID"]), "5")
        wait_for(lambda: _rates(portals, 103) == ["good"], within=60)
        assert _rates(portals, 104) == []
        _type(portals, "bitrix", int(home["BOT_ID"]), "1")
        wait_for(lambda: _rates(portals, 104) == ["bad"], within=60)
        wait_for(lambda: portals.fakes.state(CLIENT)["events_pending"] == 0, within=30)
        wait_for(lambda: portals.fakes.state("bitrix")["events_pending"] == 0, within=30)
        polls, stored = _rows(database_url)
        waiting, unrated = _one_portal_failing(portals, service)
    bots = {int(acme["BOT_ID"]), int(home["BOT_ID"])}
    assert bots == {567}  # bot 567 on each portal: two queues, two rows
    assert set(polls) == {567, SPAN + 567}
    assert polls[567].next_offset and polls[SPAN + 567].next_offset
    assert stored["acme"].api == "v2" and stored["acme"].bot_id == 567
    assert stored["acme"].route_key and stored["acme"].bot_token
    assert waiting == 1 and unrated == []


def test_adding_a_v2_portal_twice_keeps_one_bot_and_its_token_and_removing_it_unregisters(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path, api="v2") as portals:
        add = ("portal", "add", "acme", portals.client_webhook, "--api", "v2")
        first, again = portals.admin(*add), portals.admin(*add)
        bots = portals.fakes.state(CLIENT)["bots"]
        switch = portals.admin("portal", "add", "acme", portals.client_webhook, "--api", "v1")
        removed = portals.admin("portal", "remove", "acme")
        after = portals.fakes.state(CLIENT)["bots"]
    assert first.code == 0 and again.code == 0, first.out + again.out
    (bot,) = bots.values()
    assert bot["API"] == "v2" and f"bot {bot['ID']}" in again.out
    assert bot["CLIENT_ID"] not in first.out + again.out  # the bot token, only masked
    assert switch.code == 2 and "runs API v2" in switch.out
    assert removed.code == 0 and f"bot {bot['ID']} unregistered" in removed.out
    assert after == {}


def test_a_v2_portals_bot_deleted_by_hand_is_that_portals_state_alone(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path, api="v2") as portals:
        register_bot(portals.env, tmp_path)
        added = portals.admin("portal", "add", "acme", portals.client_webhook, "--api", "v2")
        assert added.code == 0, added.out
        service = Service(portals.env, tmp_path / "service.log")
        service.start()
        try:
            wait_for(lambda: len(_rows(database_url)[0]) == 2, within=60)  # both polled
            portals.fakes.control(CLIENT, "delete_bot", {})
            wait_for(lambda: _rows(database_url)[1]["acme"].state == "bot_deleted", within=60)
        finally:
            service.stop()
    assert _rows(database_url)[1]["default"].state == "active"
