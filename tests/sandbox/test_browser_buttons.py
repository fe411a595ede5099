"""No button that does nothing, in the sandbox in headless Chromium (issue 22, point 1): after
a reminder and the timeout no score button is left pressable on any message of the survey,
and a press on the ended survey (from a page drawn before it ended) gets an answer.
Screenshots go to tests/sandbox/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browsers import chromium, playwright_or_skip
from tests.sandbox.running import RunningSandbox, sandbox_process

SHOTS = Path(__file__).parent / "screenshots"
WAIT_MS = 40_000
TICKET = 314599
OTHER = 314602

sync_api = playwright_or_skip()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, api: str) -> Iterator[RunningSandbox]:
    """The sandbox with a short timeout: the reminder at half of it (REMINDER_AFTER's default),
    six seconds before the end, room for a page on a busy machine to see it."""
    directory = tmp_path_factory.mktemp("sandbox")
    with sandbox_process(directory, "--bitrix-api", api, "--rating-timeout", "12s") as running:
        yield running


@pytest.fixture
def page(sandbox: RunningSandbox) -> Iterator[Any]:
    """A desktop-sized page on the sandbox, in the system's Chromium."""
    with chromium() as browser:
        opened = browser.new_context(viewport={"width": 1360, "height": 1000}).new_page()
        opened.set_default_timeout(WAIT_MS)
        opened.goto(sandbox.url)
        yield opened


def _shoot(page: Any, name: str, api: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"buttons-{name}-{api}.png"), full_page=True)


def test_after_a_reminder_and_the_timeout_no_score_button_is_left(page: Any, api: str) -> None:
    expect = sync_api.expect
    expect.set_options(timeout=WAIT_MS)
    page.locator(f"#ticket-{TICKET}").get_by_role("button", name="Закрыть").click()
    survey = page.locator("#chat-log .message.bot", has_text=f"№{TICKET}")
    invitation = survey.filter(has_text="закрыта")
    expect(invitation.locator(".keyboard button")).to_have_count(5)
    reminder = survey.filter(has_text="Напоминаем")
    expect(reminder.locator(".keyboard button")).to_have_count(5)
    _shoot(page, "1-reminded", api)
    expect(survey.filter(has_text="истекло")).to_have_count(2)
    expect(page.locator("#chat-log .message.bot .keyboard button")).to_have_count(0)
    _shoot(page, "2-timed-out", api)


def _fake_bitrix(sandbox: RunningSandbox) -> str:
    """The fake Bitrix24's address, from the settings file the sandbox printed."""
    printed = sandbox.output.read_text(encoding="utf-8")
    env_file = Path(printed.split("--env-file ", 1)[1].split()[0])
    for line in env_file.read_text(encoding="utf-8").splitlines():
        if line.startswith("BITRIX_WEBHOOK_URL="):
            url = urlsplit(line.split("=", 1)[1])
            return f"{url.scheme}://{url.netloc}"
    raise AssertionError("BITRIX_WEBHOOK_URL not in the sandbox's settings")


def test_a_press_on_an_ended_survey_is_answered(
    page: Any, sandbox: RunningSandbox, api: str
) -> None:
    expect = sync_api.expect
    expect.set_options(timeout=WAIT_MS)
    page.locator(f"#ticket-{OTHER}").get_by_role("button", name="Закрыть").click()
    survey = page.locator("#chat-log .message.bot", has_text=f"№{OTHER}")
    invitation = survey.filter(has_text="закрыта")
    expect(invitation.locator(".keyboard button")).to_have_count(5)
    # Too old to edit (a portal setting, 3 days by default): its buttons stay after the end.
    seed = {"uneditable": [int(invitation.get_attribute("data-id") or 0)]}
    httpx.post(f"{_fake_bitrix(sandbox)}/_fake/seed", json=seed).raise_for_status()
    expect(survey.filter(has_text="Напоминаем")).to_have_count(1)
    if api == "v2":
        # imbot.v2 edits have no time limit (bitrix24.md §13): the old invitation loses its
        # buttons too, so no button of the ended survey is left to press.
        expect(survey.filter(has_text="истекло")).to_have_count(2)
        expect(page.locator("#chat-log .message.bot .keyboard button")).to_have_count(0)
        _shoot(page, "3-nothing-left-to-press", api)
        return
    expect(survey.filter(has_text="истекло")).to_have_count(1)

    invitation.get_by_role("button", name="3", exact=True).click()
    bot_says = page.locator("#chat-log .message.bot .text")
    expect(bot_says.last).to_have_text(f"Время для оценки заявки №{OTHER} истекло.")
    expect(bot_says).to_have_count(3)  # the invitation, the reminder, and the answer
    _shoot(page, "3-press-answered", api)
