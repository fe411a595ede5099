"""What the hostile-input tests share: the statuses allowed, the fixture events, the app run
in a blocking portal (so a synchronous hypothesis test can drive it) and the check that nothing
happened."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, settings
from pydantic import ValidationError

from bridge.config.settings import Settings
from bridge.okdesk.data import OkdeskWebhook
from harness.app import running_app
from harness.senders import Senders
from harness.vendors import Vendors

INT64 = range(-(2**63), 2**63)

# The parser is the same whatever the database, so the property tests run on SQLite only (twice
# the time buys nothing there); what the databases store differently (column limits, NUL
# characters) is covered by the explicit tests further down, on both backends.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# --- the app in a portal ----------------------------------------------------------------------


@contextmanager
def app_in_portal(settings_: Settings, fakes: Vendors) -> Iterator[Senders[httpx.Response]]:
    """Run the app (lifespan included) in a thread of its own until the block ends; what is
    sent waits for the app's answer."""
    with (
        start_blocking_portal("asyncio") as portal,
        portal.wrap_async_context_manager(running_app(settings_, fakes)) as app,
    ):

        def post(path: str, content: bytes | None = None, **request: Any) -> httpx.Response:
            return portal.call(partial(app.client.post, path, content=content, **request))

        yield Senders(post)


def overflows_storage(payload: Any) -> bool:
    """A status change whose ticket or contact id no 64-bit column holds (a known 5xx)."""
    try:
        webhook = OkdeskWebhook.model_validate(payload)
    except ValidationError:
        return False
    ids = (webhook.issue.id, webhook.contact_id)
    return any(value is not None and value not in INT64 for value in ids)


PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
