"""What the bot says to a person besides the invitation: queued bot messages, each to the
person's own private chat and each within REPLIES_PER_MINUTE.

A message about a survey goes to the survey's Bitrix24 user, and any other to the person who
wrote; never to a dialog an event names (issue 23, point 1: an event's DIALOG_ID is what a
forger chooses). Every message counts against the person's share of the minute, so no flood of
events becomes a flood of messages (point 7).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.texts.messages import Language
from bridge.config.settings import Settings
from storage import queue, seen
from storage.tables import JobKind, Survey

log = logging.getLogger(__name__)


def survey_language(survey: Survey) -> Language:
    """The language the survey's messages are written in."""
    return "en" if survey.language == "en" else "ru"


def say(
    session: Session,
    settings: Settings,
    user_id: int,
    text: str,
    now: datetime,
    *,
    keyboard: dict[str, Any] | None = None,
    survey_ids: Sequence[int] = (),
) -> bool:
    """Queue one bot message to a person's private chat, unless they had their share of this
    minute (REPLIES_PER_MINUTE); whether it was queued. `survey_ids`: the surveys whose buttons
    it carries (they are taken away when a survey ends, `bridge.survey.buttons`)."""
    minute = now.replace(second=0, microsecond=0).isoformat()
    slots = (f"reply:{user_id}:{minute}:{n}" for n in range(settings.replies_per_minute))
    if not any(seen.first_sighting(session, key=slot, now=now) for slot in slots):
        log.info("reply.throttled user_id=%s", user_id)
        return False
    payload: dict[str, object] = {"dialog_id": str(user_id), "text": text}
    if keyboard is not None:
        payload["keyboard"] = keyboard
        payload["survey_ids"] = list(survey_ids)
    queue.enqueue(session, kind=JobKind.REPLY, now=now, payload=payload)
    return True


def say_to(
    session: Session,
    settings: Settings,
    survey: Survey,
    text: str,
    now: datetime,
    *,
    keyboard: dict[str, Any] | None = None,
    survey_ids: Sequence[int] = (),
) -> bool:
    """Queue a message about a survey: to the survey's person, whoever's event caused it."""
    if survey.bitrix_user_id is None:
        return False
    return say(
        session,
        settings,
        survey.bitrix_user_id,
        text,
        now,
        keyboard=keyboard,
        survey_ids=survey_ids,
    )
