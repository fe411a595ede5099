"""What the sandbox's browser tests share: the Bitrix24 API its bot runs on, both of them."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", params=["v1", "v2"])
def api(request: pytest.FixtureRequest) -> str:
    """The Bitrix24 API the sandbox's bot runs on."""
    return str(request.param)
