"""The fake Bitrix24 runs several portals, as Bitrix24 does: each with its own state, limits and
member_id, and the same small ids on each (user 27 and bot 567 everywhere)."""

from __future__ import annotations

import httpx

from harness.processes import fakes_process


def _call(webhook: str, method: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(webhook + method, json=body, timeout=10)


def test_two_fake_portals_repeat_ids_and_keep_their_own_limits_and_member_id() -> None:
    with fakes_process("--portals", "2") as fakes:
        fakes.seed_tickets([])
        fakes.seed_tickets([], portal="bitrix:1")
        first, second = (p["bitrix_webhook"] for p in fakes.portals)
        bot: dict[str, object] = {"CODE": "okdesk_rating", "TYPE": "B"}
        bot["CLIENT_ID"] = "client-one-0001"
        bot["EVENT_HANDLER"] = "http://127.0.0.1:9/events"
        bot["PROPERTIES"] = {"NAME": "Оценка"}
        ids = [_call(hook, "imbot.register", bot).json()["result"] for hook in (first, second)]
        users = [
            _call(hook, "user.get", {"FILTER": {"ID": 27}}).json()["result"][0]["ID"]
            for hook in (first, second)
        ]
        fakes.control("bitrix:1", "rate_limit", {"enabled": True, "burst": 1})
        throttled = [_call(second, "user.get", {}).status_code for _ in range(3)]
        free = [_call(first, "user.get", {}).status_code for _ in range(3)]
        members = [fakes.state(which)["member_id"] for which in ("bitrix", "bitrix:1")]
    assert ids[0] == ids[1] and users == ["27", "27"]
    assert 503 in throttled and free == [200, 200, 200]
    assert members[0] != members[1]
