"""`python -m sandbox --portals 2` as a person uses it: two fake portals, ООО Ромашка's people
asked in the first and ООО Лютик's in the second (both have a user 27), each chat seen from the
page as that person, and the report page listing both portals and filtering by either."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browsers import chromium
from tests.sandbox.running import RunningSandbox, sandbox_process


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with sandbox_process(tmp_path_factory.mktemp("portals"), "--portals", "2") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def _rate(page: Any, url: str, who: int, ticket: int, button: int) -> None:
    """As person `who`: close `ticket` in Okdesk, then press rating button `button`."""
    page.goto(f"{url}?who={who}")
    page.click(f"#ticket-{ticket} button")
    page.wait_for_selector(f".message.bot:has-text('№{ticket}') .keyboard button", timeout=30_000)
    page.click(f".message.bot:has-text('№{ticket}') .keyboard button >> nth={button}")
    page.wait_for_selector(f"#ticket-{ticket} .survey.rated", timeout=30_000)


def test_each_company_s_people_are_asked_in_their_own_portal(
    sandbox: RunningSandbox, browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    _rate(page, sandbox.url, 1027, 314610, 3)  # Анна Козлова, user 27 of ООО Лютик's portal
    _rate(page, sandbox.url, 27, 314599, 1)  # Иван Петров, user 27 of the first portal
    page.goto(f"{sandbox.url}?who=1027")
    page.screenshot(path=str(tmp_path / "client-chat.png"), full_page=True)
    anna = page.inner_text("#chat-log")
    page.goto(f"{sandbox.url}?who=27")
    ivan = page.inner_text("#chat-log")
    tabs = page.inner_text("nav.people")
    assert "№314610: 4" in anna and "314599" not in anna
    assert "№314599: 2" in ivan and "314610" not in ivan
    assert "портал default:" in tabs and "портал lyutik:" in tabs and "Анна Козлова" in tabs


def test_the_report_lists_both_portals_and_filters_by_either(
    sandbox: RunningSandbox, browser: Any, tmp_path: Path
) -> None:
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(sandbox.url + "admin#portals")
    phone.screenshot(path=str(tmp_path / "portals-phone.png"), full_page=True)
    rows = phone.locator("[data-table=portals] tr[data-portal]").all_inner_texts()
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(sandbox.url + "admin")
    page.select_option("select[name=portal]", "lyutik")
    page.click("header button[type=submit]")
    client = page.inner_text("main")
    csv = httpx.get(sandbox.url + "admin/export.csv?" + page.url.split("?", 1)[1], timeout=10)
    # Name, domain, state, companies (one each), waiting surveys.
    cells = [[cell.strip() for cell in row.split("\n")][:5] for row in rows]
    assert cells == [
        ["default", "127.0.0.1", "работает", "1", "0"],
        ["lyutik", "127.0.0.1", "работает", "1", "0"],
    ]
    assert re.search(r"От людей\s*1\b", client) and "4,00" in client
    tickets = {line.split(",")[0] for line in csv.text.lstrip("\ufeff").splitlines()[1:]}
    assert tickets == {"314610"}
