"""«Разобрано» on the report page: who handled a low rating, recorded with the time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from storage.db import transaction
from storage.reading import attention

# Who pressed the button when the form names no one: the page has one password, no users.
NOBODY_NAMED = "admin"


def handler_name(given: str | None) -> str:
    """The name typed in the form, printable and at most 100 characters; else `admin`."""
    name = "".join(c for c in (given or "") if c.isprintable()).strip()[:100].strip()
    return name or NOBODY_NAMED


def mark_handled(
    engine: Engine, settings: Settings, survey_id: int, by: str, now: datetime
) -> bool:
    """Record that `by` handled the low rating `survey_id` now; False if none waits."""
    with transaction(engine) as session:
        return attention.mark_handled(
            session, survey_id=survey_id, max_score=settings.alert_max_score, by=by, now=now
        )
