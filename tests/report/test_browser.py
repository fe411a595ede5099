"""The report page in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
the service runs as a process over the hand-made data set; the test logs in, reads the
figures as a person sees them, presses the retry button, and saves screenshots at desktop and
phone widths to tests/report/screenshots/ (git-ignored) for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.processes import Service, service_on_fakes
from storage.db import create_db_engine
from tests.browsers import chromium, playwright_or_skip
from tests.report import dataset
from tests.report.conftest import ADMIN_TOKEN
from tests.report.dataset import EXPECTED

SHOTS = Path(__file__).parent / "screenshots"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}

sync_api = playwright_or_skip()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service as a process with ADMIN_TOKEN set, over the data set."""
    directory = tmp_path_factory.mktemp("admin-browser")
    with service_on_fakes(directory, [], ADMIN_TOKEN=ADMIN_TOKEN) as running:
        engine = create_db_engine(running.env["DATABASE_URL"], pool_size=1)
        dataset.seed(engine)
        engine.dispose()
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, the system's (Playwright never downloads a browser here)."""
    with chromium() as browser:
        yield browser


def _page(browser: Any, service: Service, size: str) -> Any:
    width, height = SIZES[size]
    context = browser.new_context(
        viewport={"width": width, "height": height},
        http_credentials={"username": "admin", "password": ADMIN_TOKEN},
        java_script_enabled=False,
    )
    page = context.new_page()
    page.goto(f"{service.url}/admin?{dataset.QUERY}")
    return page


def _figure(page: Any, name: str) -> str:
    return str(page.locator(f'[data-figure="{name}"]').inner_text()).strip()


def test_the_page_shows_the_hand_computed_figures(browser: Any, service: Service) -> None:
    page = _page(browser, service, "desktop")
    assert page.title() == "Оценки заявок"
    assert _figure(page, "csat") == EXPECTED["csat"]
    assert _figure(page, "response") == EXPECTED["response"]
    assert _figure(page, "mean") == EXPECTED["mean_ru"]
    assert (_figure(page, "human"), _figure(page, "automatic")) == ("7", "2")
    assert _figure(page, "undeliverable") == "1"
    engineers = page.locator('table[data-table="engineer"] tbody tr').all_inner_texts()
    assert any(row.split("\t")[:3] == [dataset.IVAN, "3", "67%"] for row in engineers)
    assert any(row.startswith("Anna <b>Smith</b>") for row in engineers)
    assert str(page.locator("svg.chart title").first.text_content()).startswith("Гистограмма")
    comments = page.locator(".comments blockquote").all_inner_texts()
    assert comments[0].startswith("Не решили <script>alert(1)</script>")
    assert "Ответ на вопрос после оценки: " + dataset.FOLLOWUP in comments
    changed = page.locator('table[data-table="changes"] tbody tr').all_inner_texts()
    assert changed == ["Заявка 1002\t2 → 4\t2026-03-03 12:30"]
    link = page.locator(".comments a").first.get_attribute("href")
    assert link.endswith("/issues/1005")
    axis = page.locator("svg.chart text.axis").all_text_contents()
    assert axis[-2:] == ["02.03", "09.03"]
    page.context.close()


def test_screenshots_at_desktop_and_phone_widths(browser: Any, service: Service) -> None:
    SHOTS.mkdir(exist_ok=True)
    for size in SIZES:
        page = _page(browser, service, size)
        path = SHOTS / f"admin-{size}.png"
        page.screenshot(path=str(path), full_page=True)
        # Nothing is wider than the screen: the page reads on a phone without side-scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size][0]
        page.context.close()
        print(f"screenshot: {path}")


def test_the_retry_button_queues_the_failed_survey(browser: Any, service: Service) -> None:
    page = _page(browser, service, "desktop")
    page.locator("form.retry button").click()
    page.wait_for_load_state()
    assert "queued=1" in page.url
    assert page.locator(".notice").inner_text().startswith("Поставлено в очередь заново: 1.")
    page.context.close()


def test_needs_attention_and_handled_on_a_phone(browser: Any, service: Service) -> None:
    page = _page(browser, service, "phone")
    rows = page.locator('table[data-table="attention"] tbody tr')
    assert rows.count() == 2
    assert "Долго ждал ответа" in rows.first.inner_text()
    rows.first.locator('input[name="by"]').fill("Ольга")
    rows.first.locator("form.handled button").click()
    page.wait_for_load_state()
    assert "handled=1" in page.url
    assert page.locator(".notice").inner_text() == "Отмечено как разобранное."
    assert page.locator('table[data-table="attention"] tbody tr').count() == 1
    page.context.close()


def test_the_engineer_filter_and_the_previous_period(browser: Any, service: Service) -> None:
    page = _page(browser, service, "desktop")
    assert _figure(page, "csat_previous") == "0%"
    page.locator('header input[name="engineer"]').fill(dataset.IVAN)
    page.locator('header button[type="submit"]').click()
    page.wait_for_load_state()
    # Ivan's 5, 4, 2: 67%; 3 of his 7 delivered invitations answered: 43%.
    assert (_figure(page, "csat"), _figure(page, "response")) == ("67%", "43%")
    page.context.close()
