"""A person's language (issue 10): what Bitrix24's events say (`data[PARAMS][LANGUAGE]`,
bitrix24.md §5), when it is one the bot speaks; else LANGUAGE.

Remembered per person, so that their next invitation speaks it too, and their waiting
surveys switch to it at once (the thanks for a click come in the click's language).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import get_args

from sqlalchemy.engine import Engine

from bot.texts.messages import Language
from storage.db import reading, transaction
from storage.survey import asking

SPOKEN: tuple[Language, ...] = get_args(Language)
# How long a person's stored language counts as seen: the purge forgets them PERSONAL_DATA_
# RETENTION after they were last seen, so an hour late is nothing.
SEEN_AGAIN = timedelta(hours=1)


def spoken(language: str) -> Language | None:
    """The event's language if the bot speaks it (`de` is not: LANGUAGE then applies)."""
    for known in SPOKEN:
        if language == known:
            return known
    return None


def remember(engine: Engine, user_id: int | None, language: str, now: datetime) -> None:
    """Keep the language an event of this person showed (nothing when unknown). A language
    stored already, and seen within `SEEN_AGAIN`, is only read: every click of a busy person
    wrote it, and walked their waiting surveys, in a write transaction of its own."""
    known = spoken(language)
    if user_id is None or known is None:
        return
    with reading(engine) as session:
        since = now - SEEN_AGAIN
        if asking.language_kept(session, bitrix_user_id=user_id, language=known, since=since):
            return
    with transaction(engine) as session:
        asking.remember_language(session, bitrix_user_id=user_id, language=known, now=now)
