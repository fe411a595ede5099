"""Debian's Chromium for the tests that look at a page as a person does, driven by Playwright
(which never downloads a browser here). Without /usr/bin/chromium such a test module is
skipped, unless REQUIRE_BROWSER=1 makes that a failure (as in CI)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def playwright_or_skip() -> Any:
    """Playwright's sync API, or the calling module skipped when there is no browser to drive."""
    if not CHROMIUM.exists() and not os.environ.get("REQUIRE_BROWSER"):
        pytest.skip(
            "/usr/bin/chromium is missing (apt-get install -y chromium); set REQUIRE_BROWSER=1 "
            "to make this a failure",
            allow_module_level=True,
        )
    return pytest.importorskip("playwright.sync_api", reason="pip install playwright")


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium, the system's."""
    with playwright_or_skip().sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()
