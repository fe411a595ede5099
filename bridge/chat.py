"""What the follow-up and the change of mind say to a person: queued bot messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot.messages import Language
from storage import queue
from storage.tables import JobKind, Survey


def survey_language(survey: Survey) -> Language:
    """The language the survey's messages are written in."""
    return "en" if survey.language == "en" else "ru"


def say(
    session: Session,
    dialog_id: str,
    text: str,
    now: datetime,
    *,
    keyboard: dict[str, Any] | None = None,
    survey_ids: Sequence[int] = (),
) -> None:
    """Queue one bot message to a dialog (the worker sends it); `survey_ids`: the surveys
    whose buttons it carries (they are taken away when a survey ends, `bridge.buttons`)."""
    payload: dict[str, object] = {"dialog_id": dialog_id, "text": text}
    if keyboard is not None:
        payload["keyboard"] = keyboard
        payload["survey_ids"] = list(survey_ids)
    queue.enqueue(session, kind=JobKind.REPLY, now=now, payload=payload)
