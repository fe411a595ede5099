"""English mode of the sandbox makes the bot speak English too: the page switched to English
restarts the service with LANGUAGE=en and the fake portal's events say `en`, so the invitation
and the thanks are in English."""

from __future__ import annotations

from pathlib import Path

import httpx

from harness.waiting import wait_for
from tests.sandbox.running import sandbox_process


def _chat(url: str) -> str:
    return str(httpx.get(f"{url}panels?who=27&lang=en", timeout=10).json()["chat-log"])


def test_the_english_page_has_the_bot_speak_english(tmp_path: Path) -> None:
    fetch = {"x-sandbox": "fetch"}
    with sandbox_process(tmp_path) as running:
        page = httpx.get(f"{running.url}?lang=en", timeout=60)
        assert page.status_code == 200 and ">Close</button>" in page.text
        closed = httpx.post(
            f"{running.url}close", data={"issue_id": "314599", "lang": "en"}, headers=fetch
        )
        assert "the invitation goes to Иван Петров's chat" in closed.json()["note"]
        wait_for(lambda: "Ticket #314599 is closed" in _chat(running.url), within=30)
        assert "Заявка" not in _chat(running.url)
