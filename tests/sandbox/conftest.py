"""What the sandbox's browser tests share: the Bitrix24 API its bot runs on (both of them), one
sandbox for a test module, and the system's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browsers import chromium
from tests.sandbox.running import RunningSandbox, sandbox_process


@pytest.fixture(scope="module", params=["v1", "v2"])
def api(request: pytest.FixtureRequest) -> str:
    """The Bitrix24 API the sandbox's bot runs on."""
    return str(request.param)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, api: str) -> Iterator[RunningSandbox]:
    """One `python -m sandbox --bitrix-api API` for the module."""
    with sandbox_process(tmp_path_factory.mktemp("sandbox"), "--bitrix-api", api) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, the system's (Playwright never downloads a browser here)."""
    with chromium() as browser:
        yield browser
