"""Is the bot really gone? An ONIMBOTDELETE is believed only when the portal agrees.

Anyone holding the handler URL can post an ONIMBOTDELETE for our bot, and believing it turned
`/readyz` 503 until the next invitation (issue 23). So the event only queues a check; the
worker asks the portal over our own webhook (`imbot.bot.list`; imbot.v2 `Bot.get`) and records
the bot as deleted only when the portal no longer lists it. One check a portal is pending at a
time, so a flood of forged events costs one request. It is that portal's state alone
(`storage.status.bot_deleted`): another portal's bot is not touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.messenger import Messenger
from bot.portals.messengers import messenger_of
from storage import queue, status
from storage.db import transaction
from storage.tables import JobKind

log = logging.getLogger(__name__)


def queue_check(engine: Engine, bot_id: int | None, now: datetime, portal: int = 0) -> None:
    """An event says a portal's bot was deleted: queue the question to that portal."""
    with transaction(engine) as session:
        queued = queue.enqueue_unless_pending(
            session, kind=JobKind.CHECK_BOT_DELETED, now=now, payload=_naming(portal)
        )
    log.info(
        "bitrix.bot_delete_reported portal=%s bot_id=%s check_queued=%s", portal, bot_id, queued
    )


def _naming(portal: int) -> dict[str, Any] | None:
    # `default`'s check names no portal, as older releases queued it.
    return None if portal == 0 else {"portal": portal}


async def check(messenger: Messenger, portal: int) -> bool:
    """Whether the portal's bot is gone, by the portal's own word."""
    if await (await messenger_of(messenger, portal)).bot_listed():
        log.warning(
            "bitrix.bot_delete_forged portal=%s: the portal still lists the bot; nothing changed",
            portal,
        )
        return False
    log.warning(
        "bitrix.bot_deleted portal=%s: the portal no longer lists the bot: run "
        "python -m bot.register (an added portal: python -m bridge.admin portal add again)",
        portal,
    )
    return True


def recording_deleted(portal: int) -> Callable[[Session, datetime], None]:
    """What to record once the portal confirmed it: its state says the bot is deleted until
    the bot can post there again."""

    def record(session: Session, now: datetime) -> None:
        status.bot_deleted(session, number=portal, now=now)

    return record
