"""Running `python -m bridge.admin` in-process on a test database and the fakes, and seeding
surveys for it to look at."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from bridge.admin.__main__ import run
from bridge.config.settings import Settings
from storage import queue
from storage.db import transaction
from storage.survey import surveys
from storage.tables import JobKind, Survey, SurveyState

WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass
class Ran:
    """What a command printed and how it exited."""

    code: int
    out: str


def admin(settings: Settings, *argv: str, transport: httpx.AsyncBaseTransport | None = None) -> Ran:
    """Run one admin command and capture what it printed."""
    out = io.StringIO()
    code = run(list(argv), settings, out, transport)
    return Ran(code, out.getvalue())


def seed(engine: Engine, issue_id: int, state: SurveyState, **fields: Any) -> int:
    """Store one survey of `issue_id` (its ticket's current one unless told otherwise)."""
    values: dict[str, Any] = {
        "token": surveys.new_survey_token(),
        "issue_id": issue_id,
        "current_issue_id": issue_id,
        "state": state,
        "language": "ru",
        "created_at": WHEN,
        "updated_at": WHEN,
    }
    values.update(fields)
    with transaction(engine) as session:
        survey_id = surveys.open_survey(session, survey=Survey(**values))
        assert survey_id is not None
        queue.enqueue(session, kind=JobKind.INVITE, now=WHEN, survey_id=survey_id)
    return survey_id
