"""The sandbox page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), as
a newcomer uses it: close a ticket, see the invitation in the chat, press 4, see «good» on the
ticket; close another, answer it by typing, see it rated. Both ways the sandbox runs: the bot
on imbot v1 and on imbot.v2 (`--bitrix-api v2`, events fetched). Screenshots go to
tests/sandbox/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browsers import playwright_or_skip
from tests.sandbox.running import RunningSandbox

SHOTS = Path(__file__).parent / "screenshots"
WAIT_MS = 20_000

sync_api = playwright_or_skip()


@pytest.fixture
def page(browser: Any, sandbox: RunningSandbox) -> Iterator[Any]:
    """A desktop-sized page on the sandbox."""
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    opened.goto(sandbox.url)
    yield opened
    context.close()


def _shoot(page: Any, name: str, api: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    suffix = "" if api == "v1" else f"-{api}"
    page.screenshot(path=str(SHOTS / f"sandbox-{name}{suffix}.png"), full_page=True)


def _invitation(page: Any, number: int) -> Any:
    """The bot's first message about the ticket: its invitation."""
    return page.locator("#chat-log .message.bot", has_text=f"№{number}").first


def test_closing_a_ticket_and_pressing_4_rates_it_good_in_okdesk(page: Any, api: str) -> None:
    expect = sync_api.expect
    expect(page.locator("#api")).to_have_attribute("data-api", api)
    ticket = page.locator("#ticket-314599")
    expect(ticket.locator(".rating")).to_have_text("нет")
    _shoot(page, "1-start", api)
    ticket.get_by_role("button", name="Закрыть").click()
    invitation = _invitation(page, 314599)
    expect(invitation).to_contain_text("Заявка №314599 закрыта", timeout=WAIT_MS)
    # [b] and [br] are drawn as a person sees them, not as BB-code.
    expect(invitation.locator("b")).to_have_text("Заявка №314599 закрыта")
    assert "[br]" not in invitation.inner_text()
    expect(invitation.locator(".keyboard button")).to_have_count(5)
    _shoot(page, "2-invitation", api)
    invitation.get_by_role("button", name="4", exact=True).click()
    expect(ticket.locator(".rating")).to_have_text("хорошо", timeout=WAIT_MS)
    expect(invitation).to_contain_text("4 из 5")
    # The rating buttons are gone; the thank-you offers to change the score.
    expect(invitation.locator(".keyboard button")).to_have_text(["Изменить оценку"])
    _shoot(page, "3-rated-by-button", api)


def test_a_typed_reply_rates_a_second_ticket(page: Any, api: str) -> None:
    expect = sync_api.expect
    page.locator("nav.people").get_by_role("link", name="Светлана Иванова").click()
    ticket = page.locator("#ticket-314600")
    ticket.get_by_role("button", name="Закрыть").click()
    invitation = _invitation(page, 314600)
    expect(invitation).to_contain_text("Заявка №314600 закрыта", timeout=WAIT_MS)
    page.locator("#reply input[name=text]").fill("5")
    page.locator("#reply").get_by_role("button").click()
    expect(page.locator("#chat-log .message.mine")).to_have_text("Вы5")
    expect(ticket.locator(".rating")).to_have_text("хорошо", timeout=WAIT_MS)
    expect(invitation).to_contain_text("5 из 5")
    # Confirmed where the person looks: a new message under their reply.
    last = page.locator("#chat-log .message").last
    expect(last).to_contain_text("5 из 5")
    assert "bot" in (last.get_attribute("class") or "")
    _shoot(page, "4-rated-by-reply", api)


# Every cell of the tickets list, and the reply box's placeholder, drawn whole: nothing reaches
# past its box (the list once scrolled sideways on a phone, the placeholder was cut).
_CUT = """() => {
  const list = document.getElementById("tickets");
  const edge = list.getBoundingClientRect().right + 0.5;
  const cut = [...list.querySelectorAll("td, button, .rate, .status")].filter(
    (e) => e.getClientRects().length && e.getBoundingClientRect().right > edge);
  const input = document.querySelector("#reply input[name=text]");
  const style = getComputedStyle(input);
  const ruler = document.createElement("canvas").getContext("2d");
  ruler.font = `${style.fontSize} ${style.fontFamily}`;
  const room = input.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return {cut: cut.map((e) => e.outerHTML.slice(0, 60)),
          scrolls: list.scrollWidth > list.clientWidth,
          placeholder: ruler.measureText(input.placeholder).width <= room};
}"""


@pytest.mark.parametrize(("width", "name"), [(390, "5-phone"), (1280, "6-laptop")])
def test_the_page_reads_whole_on_a_phone_and_a_laptop(
    browser: Any, sandbox: RunningSandbox, api: str, width: int, name: str
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 844})
    shown = context.new_page()
    shown.goto(sandbox.url)
    _shoot(shown, name, api)
    assert shown.evaluate("document.documentElement.scrollWidth") <= width
    assert shown.evaluate(_CUT) == {"cut": [], "scrolls": False, "placeholder": True}
    context.close()


def test_closing_a_ticket_shows_the_chat_it_went_to(page: Any, api: str) -> None:
    expect = sync_api.expect
    expect(page.locator("nav.people .current")).to_have_text("Иван Петров")
    page.locator("#ticket-314602").get_by_role("button", name="Закрыть").click()
    expect(page.locator("nav.people .current")).to_have_text("Олег Смирнов")
    expect(page.locator("#note")).to_contain_text("приглашение придёт в чат: Олег Смирнов")
    expect(_invitation(page, 314602)).to_contain_text("Заявка №314602 закрыта", timeout=WAIT_MS)
    _shoot(page, "7-switched-chat", api)
