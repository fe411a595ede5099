"""`python -m sandbox --bitrix-api v2`: the bot on imbot.v2 in fetch mode (no PUBLIC_URL), and the
page's forms acting through the v2 portal's person routes: a ticket closed on the page is
rated «good» in Okdesk by a press of 4, and another by a typed «5»."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from harness.waiting import wait_for
from tests.sandbox.running import interrupt, sandbox_process

FETCH = {"x-sandbox": "fetch"}
# Each wait is bounded: the service fetches v2 events every second.
WITHIN = 60


def _panels(url: str, who: int) -> dict[str, str]:
    """The page's changing parts as a person `who` sees them."""
    return dict(httpx.get(f"{url}panels?who={who}", timeout=10).json())


def _row(url: str, ticket: int) -> str:
    """One ticket's row of the Okdesk list (drawn from the fake Okdesk's state)."""
    tickets = _panels(url, 27)["tickets"]
    return tickets.split(f'id="ticket-{ticket}"')[1].split("</tr>")[0]


def _invitation(url: str, who: int, ticket: int) -> str | None:
    """The id of the bot's message about `ticket` with buttons in `who`'s chat, if any."""
    for bubble in _panels(url, who)["chat-log"].split('<div class="message ')[1:]:
        found = re.search(r'name="message_id" value="(\d+)"', bubble)
        if f"№{ticket}" in bubble and found:
            return found.group(1)
    return None


def _close(url: str, ticket: int, who: int) -> str:
    """Close a ticket with the page's plain form post; the invitation's message id."""
    closed = httpx.post(f"{url}close", data={"issue_id": str(ticket), "who": str(who)})
    assert (closed.status_code, closed.headers["location"]) == (303, f"/?who={who}&lang=ru")
    wait_for(lambda: _invitation(url, who, ticket) is not None, within=WITHIN, every=0.3)
    message_id = _invitation(url, who, ticket)
    assert message_id is not None
    return message_id


def _press_4(url: str) -> None:
    """Ivan presses 4 under the invitation for 314599; Okdesk gets «good»."""
    message_id = _close(url, 314599, 27)
    form = {"message_id": message_id, "who": "27", "button": "3"}
    pressed = httpx.post(f"{url}press", data=form, headers=FETCH, timeout=10)
    assert "ONIMBOTV2COMMANDADD" in pressed.json()["note"]
    wait_for(lambda: ">хорошо</span>" in _row(url, 314599), within=WITHIN, every=0.3)
    thanks = "Спасибо! Ваша оценка заявки №314599: 4 из 5."
    wait_for(lambda: thanks in _panels(url, 27)["chat-log"], within=WITHIN, every=0.3)


def _type_5(url: str) -> None:
    """Svetlana answers the invitation for 314600 by typing «5»; Okdesk gets «good»."""
    _close(url, 314600, 31)
    typed = httpx.post(f"{url}write", data={"text": "5", "who": "31"}, headers=FETCH, timeout=10)
    assert "ONIMBOTV2MESSAGEADD" in typed.json()["note"]
    wait_for(lambda: ">хорошо</span>" in _row(url, 314600), within=WITHIN, every=0.3)
    wait_for(lambda: "5 из 5" in _panels(url, 31)["chat-log"], within=WITHIN, every=0.3)
    assert '<div class="message mine" ' in _panels(url, 31)["chat-log"]


def test_on_imbot_v2_a_press_of_4_and_a_typed_5_rate_tickets_good(tmp_path: Path) -> None:
    with sandbox_process(tmp_path, "--bitrix-api", "v2") as running:
        page = httpx.get(running.url, timeout=10).text
        assert 'data-api="v2"' in page and "PUBLIC_URL не нужен" in page
        english = httpx.get(f"{running.url}?lang=en", timeout=60).text
        assert "imbot.v2 in fetch mode" in english and "no PUBLIC_URL is needed" in english
        # Back to Russian: the English page had the bot speak English (the service restarted).
        assert httpx.get(running.url, timeout=60).status_code == 200
        _press_4(running.url)
        _type_5(running.url)
        assert interrupt(running.process) == 0
    output = running.output.read_text()
    assert "(imbot.v2)" in output and "Traceback" not in output
