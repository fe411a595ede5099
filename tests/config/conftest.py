"""Every settings test runs in an empty temporary directory with the settings' environment
variables removed, so nothing from the developer's shell or .env leaks in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bridge.config.settings import Settings


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No setting in the environment and no `.env` in the working directory."""
    fields = {name.lower() for name in Settings.model_fields}
    for name in list(os.environ):
        if name.lower() in fields:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path
