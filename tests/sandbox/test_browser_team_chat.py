"""The team's chat in the sandbox, in headless Chromium, as a newcomer tries it: a ticket rated 2
posts an alert to the support team's chat (one of the chats the page looks into), the person's
answer to «Что пошло не так?» is edited into it and reaches the ticket's comments on the Okdesk
side, «Беру» pressed as the team's lead says who took it, and the report page (linked from the
sandbox, filled by what was done) shows it in «Нужно внимание». Desktop and phone widths, v1 and
imbot.v2; screenshots in tests/sandbox/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.browsers import playwright_or_skip
from tests.sandbox.running import RunningSandbox

SHOTS = Path(__file__).parent / "screenshots"
WAIT_MS = 20_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1360, "height": 1000}
TICKET = 314601  # Иван Петров's: «Принтер в бухгалтерии замял бумагу»

sync_api = playwright_or_skip()


def _shoot(page: Any, name: str, api: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    suffix = "" if api == "v1" else f"-{api}"
    page.screenshot(path=str(SHOTS / f"team-{name}{suffix}.png"), full_page=True)


def test_a_low_rating_reaches_the_team_chat_is_taken_and_shows_on_the_report(
    browser: Any, sandbox: RunningSandbox, api: str
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(sandbox.url)
    _rate_2_and_say_why(page, api)
    _take_in_the_team_chat(page, api)
    href = page.locator("#admin-link").get_attribute("href")
    assert href == "/admin"
    _report_shows_who_took_it(context, sandbox.url.rstrip("/") + href, api)
    context.close()
    _on_a_phone(browser, sandbox, api)


def _rate_2_and_say_why(page: Any, api: str) -> None:
    """Иван closes nothing himself: the engineer closes his ticket, he presses 2 and answers
    «Что пошло не так?»; the answer is a comment on the ticket in Okdesk."""
    expect = sync_api.expect
    ticket = page.locator(f"#ticket-{TICKET}")
    ticket.get_by_role("button", name="Закрыть").click()
    invitation = page.locator("#chat-log .message.bot", has_text=f"№{TICKET}").first
    invitation.get_by_role("button", name="2", exact=True).click()
    expect(page.locator("#chat-log")).to_contain_text("Что пошло не так", timeout=WAIT_MS)
    page.locator("#reply input[name=text]").fill("Принтер снова зажевал бумагу через час")
    page.locator("#reply button").click()
    comment = ticket.locator(".comments li", has_text="снова зажевал")
    expect(comment).to_contain_text("приватный", timeout=WAIT_MS)
    assert "<" not in comment.inner_text()  # Okdesk's HTML is shown as text, not as tags
    _shoot(page, "1-rated-2", api)


def _take_in_the_team_chat(page: Any, api: str) -> None:
    """The team's chat shows the alert with the words; Мария presses «Беру»."""
    expect = sync_api.expect
    page.locator(".people a.team").click()
    alert = page.locator("#chat-log .message.bot", has_text=f"№{TICKET}")
    expect(alert).to_contain_text("Низкая оценка: 2 из 5", timeout=WAIT_MS)
    expect(alert).to_contain_text("Клиент: Иван Петров")
    expect(alert).to_contain_text("Что пошло не так: «Принтер снова зажевал бумагу через час»")
    link = alert.locator("a", has_text=f"№{TICKET}")
    okdesk = re.compile(rf"^http://127\.0\.0\.1:\d+/issues/{TICKET}$")  # <OKDESK_URL>/issues/<id>
    expect(link).to_have_attribute("href", okdesk)
    _shoot(page, "2-alert", api)
    alert.get_by_role("button", name="Беру").click()
    expect(alert).to_contain_text("Взял(а): Мария Лебедева", timeout=WAIT_MS)
    expect(alert.locator(".keyboard button")).to_have_count(0)
    _shoot(page, "3-taken", api)


def _report_shows_who_took_it(context: Any, url: str, api: str) -> None:
    expect = sync_api.expect
    report = context.new_page()
    report.set_default_timeout(WAIT_MS)
    report.goto(url)
    row = report.locator('table[data-table="attention"] tr', has_text=f"{TICKET}")
    expect(row).to_contain_text("Взял(а) в чате: Мария Лебедева")
    expect(row).to_contain_text("Принтер снова зажевал бумагу")
    _shoot(report, "4-report", api)


def _on_a_phone(browser: Any, sandbox: RunningSandbox, api: str) -> None:
    phone = browser.new_context(viewport=PHONE, is_mobile=True)
    small = phone.new_page()
    small.set_default_timeout(WAIT_MS)
    small.goto(f"{sandbox.url}?who=52")
    alert = small.locator("#chat-log .message.bot", has_text=f"№{TICKET}")
    sync_api.expect(alert).to_contain_text("Взял(а): Мария Лебедева")
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone: {width}px"
    _shoot(small, "5-phone", api)
    phone.close()


def test_the_report_behind_the_sandbox_refuses_a_form_from_another_site(
    sandbox: RunningSandbox,
) -> None:
    """The sandbox adds the token, never the proof of origin: another site's form stays
    another site's."""
    url = f"{sandbox.url}admin/handled"
    forged = httpx.post(url, data={"survey": "1"}, headers={"origin": "http://evil.example"})
    assert forged.status_code == 403 and "must come from this page" in forged.text
    assert httpx.get(f"{sandbox.url}admin").status_code == 200
