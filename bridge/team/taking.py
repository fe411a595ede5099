"""«Беру» under an alert in the team's chat: who took the low rating is recorded once (the
first press), and the alert is edited to say so; /admin shows it in «Нужно внимание».

A press counts only in the team's chat (ALERT_DIALOG_ID): the button's survey id is no secret.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from storage import queue
from storage.db import transaction
from storage.tables import JobKind
from storage.team import posts

log = logging.getLogger(__name__)


def take(
    engine: Engine,
    settings: Settings,
    *,
    survey_id: int,
    user_id: int,
    name: str,
    dialog_id: str,
    message_id: int | None,
    now: datetime,
) -> bool:
    """Record that this person took the alert, and queue its edit; False when the press is
    not from the team's chat or someone took it before."""
    if not settings.alert_dialog_id or dialog_id != settings.alert_dialog_id:
        log.warning("team.take_ignored reason=dialog survey_id=%s", survey_id)
        return False
    shown = "".join(c for c in name if c.isprintable()).strip()[:100] or f"#{user_id}"
    with transaction(engine) as session:
        taken = posts.take(
            session,
            survey_id=survey_id,
            user_id=user_id,
            name=shown,
            message_id=message_id,
            now=now,
        )
        if taken:
            queue.enqueue(session, kind=JobKind.ALERT, now=now, survey_id=survey_id)
    log.info("team.taken survey_id=%s user_id=%s result=%s", survey_id, user_id, taken)
    return taken
