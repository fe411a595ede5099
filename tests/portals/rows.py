"""An added portal stored as `portal add` stores it (its secrets sealed), without a portal to
talk to: for tests of what the service says and shows of it."""

from __future__ import annotations

import base64
import os
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from bridge.outside.portals import context
from harness.vendors import make_settings
from storage import portals
from storage.db import transaction
from storage.portals import Portal, PortalState

KEY = base64.b64encode(os.urandom(32)).decode()


def keyed_settings(database_url: str, **overrides: Any) -> Settings:
    """The test settings with a SECRETS_KEY, so added portals can be stored and opened."""
    return make_settings(database_url, secrets_key=KEY, **overrides)


def store_portal(
    engine: Engine,
    settings: Settings,
    number: int,
    name: str,
    now: datetime,
    api: str = "v1",
    bot_id: int | None = None,
) -> Portal:
    """Portal `name` (number `number`) on `api`, active, as `portal add` leaves it."""
    box = settings.secret_box()
    assert box is not None
    row = Portal(
        id=number,
        name=name,
        domain=f"{name}.bitrix24.ru",
        api=api,
        bot_code="okdesk_rating_v2" if api == "v2" else "okdesk_rating",
        bot_id=bot_id,
        state=PortalState.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    row.route_key = f"route{number:04d}"
    secrets = {
        "webhook_url": f"https://{name}.bitrix24.ru/rest/1/hook{number}code/",
        "client_id": f"okr-client-{number:08d}",
        "events_token": f"events-token-{number:016d}",
    }
    if api == "v2":
        secrets["bot_token"] = f"bot-token-{number:08d}"
    for column, value in secrets.items():
        setattr(row, column, box.seal(value, context=context(name, column)))
    with transaction(engine) as session:
        portals.save_portal(session, row, now=now)
    return row
