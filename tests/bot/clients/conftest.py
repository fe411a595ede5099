"""The Bitrix24 and Okdesk clients over a router of mocked vendor routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx

from bot.client import BitrixClient
from tests.clients.wire import CLIENT_ID, WEBHOOK


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
async def http(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def bitrix(http: httpx.AsyncClient) -> BitrixClient:
    return BitrixClient(http, WEBHOOK, CLIENT_ID)
