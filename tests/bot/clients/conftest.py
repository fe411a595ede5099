"""The Bitrix24 client over mocked vendor routes (`router`, `http`: tests/conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from bot.client import BitrixClient
from tests.bot.clients.wire import CLIENT_ID, WEBHOOK


@pytest.fixture
def bitrix(http: httpx.AsyncClient) -> BitrixClient:
    return BitrixClient(http, WEBHOOK, CLIENT_ID)
