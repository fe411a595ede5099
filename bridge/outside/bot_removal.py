"""Is the bot really gone? An ONIMBOTDELETE is believed only when the portal agrees.

Anyone holding the handler URL can post an ONIMBOTDELETE for our bot, and believing it turned
`/readyz` 503 until the next invitation (issue 23). So the event only queues a check; the
worker asks the portal over our own webhook (`imbot.bot.list`; imbot.v2 `Bot.get`) and records
the bot as deleted only when the portal no longer lists it. One check is pending at a time, so a
flood of forged events costs one request.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.messenger import Messenger
from storage import queue, status
from storage.db import transaction
from storage.status import StatusKey
from storage.tables import JobKind

log = logging.getLogger(__name__)


def queue_check(engine: Engine, bot_id: int | None, now: datetime) -> None:
    """An event says our bot was deleted: queue the question to the portal."""
    with transaction(engine) as session:
        queued = queue.enqueue_unless_pending(session, kind=JobKind.CHECK_BOT_DELETED, now=now)
    log.info("bitrix.bot_delete_reported bot_id=%s check_queued=%s", bot_id, queued)


async def check(messenger: Messenger) -> bool:
    """Whether the bot is gone, by the portal's own word."""
    if await messenger.bot_listed():
        log.warning("bitrix.bot_delete_forged: the portal still lists the bot; nothing changed")
        return False
    log.warning(
        "bitrix.bot_deleted: the portal no longer lists the bot: run python -m bot.register"
    )
    return True


def record_deleted(session: Session, now: datetime) -> None:
    """The portal confirmed it: readiness says the bot is deleted until it can post again."""
    status.set_status(session, key=StatusKey.BOT_DELETED, value=now.isoformat(), now=now)
