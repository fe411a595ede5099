"""imbot.v2 fetch mode as real processes: the service killed (exit 137) after it handled a
fetched click and before it stored the offset acknowledging it. Bitrix24 hands the click out
again after the restart; it is rated once, and the offset then moves past it."""

from __future__ import annotations

from pathlib import Path

import httpx

from harness.constants import USER_ID
from harness.payloads import closed_webhook
from harness.processes import Service, fakes_process, register_bot
from harness.waiting import wait_for
from tests.bot.v2.test_end_to_end_v2 import _invitation, _rates, _v2_env

KILLED = 137


def test_a_click_handled_but_not_acknowledged_when_killed_is_rated_once(
    database_url: str, tmp_path: Path
) -> None:
    with fakes_process("--bitrix-api", "v2") as fakes:
        fakes.seed_tickets([401])
        # The dead poller's lease (2 x HTTP_TIMEOUT) must run out before another may poll, and
        # so must the lease of the click's rating job, should the dead worker have taken it.
        env = {**_v2_env(fakes, database_url), "HTTP_TIMEOUT": "2s", "JOB_LEASE": "3s"}
        register_bot(env, tmp_path)
        dying = Service(env, tmp_path / "dying.log", module="tests.chaos.faulty_service")
        dying.start()
        dying.wait_healthy()  # start() waits only for the plain `bridge` module
        try:
            dying.senders().webhook(closed_webhook(401))
            wait_for(lambda: _invitation(fakes, 401) is not None, within=30)
            invitation = _invitation(fakes, 401)
            assert invitation is not None
            press = {"message_id": invitation["ID"], "user_id": USER_ID, "button": 3}
            httpx.post(fakes.bitrix + "/_fake/v2/click", json=press).raise_for_status()
            assert dying.process is not None
            assert dying.process.wait(30) == KILLED
        finally:
            dying.stop()
        assert "poller.fault_injected" in (tmp_path / "dying.log").read_text(errors="replace")
        # Not acknowledged: the portal still holds the click for the next Event.get.
        assert fakes.state("bitrix")["events_pending"] >= 1
        service = Service(env, tmp_path / "service.log")
        service.start()
        try:
            wait_for(lambda: fakes.state("bitrix")["events_pending"] == 0, within=60)
            wait_for(lambda: _rates(fakes, 401) == ["good"], within=30)
            # A little more time for a second write, if the replay were to cause one.
            wait_for(lambda: _invitation(fakes, 401) is None, within=30)
            assert _rates(fakes, 401) == ["good"]
        finally:
            service.stop()
