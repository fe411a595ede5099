"""Who is asked (issue 10): the sample, the skip rules and the cooldown, and the language a
person is asked in.

What the closure webhook names (company, type, priority, the closure itself) is decided when
the survey opens: nobody is asked, no default rating is due, and `reason` says why. The
cooldown is per person, and the person is known only once the worker has found them in
Bitrix24, so it is decided there, just before the invitation would go.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bridge.config.settings import Settings
from bridge.okdesk.data import TicketContext
from bridge.rules import workflow
from bridge.survey.invitations import Invitations
from bridge.survey.jobs import Effect, applying
from storage.db import transaction
from storage.survey import asking, surveys
from storage.survey.fields import SurveyFields
from storage.tables import Survey, SurveyState

log = logging.getLogger(__name__)

COOLDOWN_REASON = "not asked: the person was asked within SURVEY_COOLDOWN"


def sampled_in(issue_id: int, closed_at: datetime | None, percent: int) -> bool:
    """Whether this closure is in the surveyed share: the same closure always decides alike.

    The ticket and its closure time (Okdesk's `completed_at`) are hashed, so a replayed
    webhook, or reconciliation finding the same closure, gets the same answer, and a later
    closure of the ticket is drawn anew.
    """
    if percent >= 100:
        return True
    closure = closed_at.astimezone(UTC).isoformat() if closed_at is not None else ""
    digest = hashlib.sha256(f"{issue_id}|{closure}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def skip_reason(
    settings: Settings, issue_id: int, closed_at: datetime | None, context: TicketContext
) -> str | None:
    """Why this closure is not surveyed, or None when it is (the rules in example.env)."""
    if context.company_id is not None and context.company_id in settings.skip_company_ids:
        return f"not asked: company {context.company_id} is in SKIP_COMPANY_IDS"
    if context.type_code is not None and context.type_code in settings.skip_type_codes:
        return f"not asked: type {context.type_code!r} is in SKIP_TYPE_CODES"
    if context.priority_code is not None and context.priority_code in settings.skip_priority_codes:
        return f"not asked: priority {context.priority_code!r} is in SKIP_PRIORITY_CODES"
    if not sampled_in(issue_id, closed_at, settings.survey_sample_percent):
        return f"not asked: outside the SURVEY_SAMPLE_PERCENT={settings.survey_sample_percent}"
    return None


def before_sending(engine: Engine, settings: Settings, batch: Invitations) -> None:
    """Hold back the invitations of people asked within the cooldown; ask the others in the
    language their events showed. One person is asked once a batch."""
    with transaction(engine) as session:
        # Two batches deciding about one person at once would both see nobody asked.
        for user_id in sorted(set(batch.recipients.values())):
            asking.hold_person(session, bitrix_user_id=user_id)
        languages = asking.known_languages(session, bitrix_user_ids=batch.recipients.values())
        asked: set[int] = set()
        for i, survey in sorted(batch.surveys.items(), key=lambda item: _order(item[1])):
            assert survey.id is not None
            user_id = batch.recipients[survey.id]
            if _cooling_down(session, settings, survey, user_id, asked):
                batch.outcomes[i] = _held_back(survey.id)
                del batch.surveys[i], batch.recipients[survey.id]
                continue
            asked.add(user_id)
            language = languages.get(user_id)
            if language is not None and language != survey.language:
                asking.set_language(session, survey_id=survey.id, language=language)
                survey.language = language
        # Known before sending: the cooldown of a later batch counts this invitation in
        # flight, and a click that beats the record of the invitation is theirs.
        surveys.set_recipients(session, recipients=batch.recipients)


def _order(survey: Survey) -> tuple[datetime, int]:
    return survey.created_at, survey.id or 0


def _cooling_down(
    session: Session, settings: Settings, survey: Survey, user_id: int, asked: set[int]
) -> bool:
    cooldown = settings.survey_cooldown
    # A test, or an invitation the administrator sends (again), is never held back.
    if (
        cooldown is None
        or survey.is_test
        or survey.message_id is not None
        or survey.reason == workflow.SENT_BY_ADMINISTRATOR
    ):
        return False
    assert survey.id is not None
    if user_id in asked:
        return True
    since = survey.created_at - cooldown
    return asking.asked_since(session, bitrix_user_id=user_id, since=since, other_than=survey.id)


def _held_back(survey_id: int) -> Effect:
    log.info("survey.skipped survey_id=%s reason=cooldown", survey_id)
    return applying(lambda now: workflow.skipped(survey_id, reason=COOLDOWN_REASON, now=now))


def opened_skipped(reason: str, now: datetime) -> SurveyFields:
    """The fields of a survey opened already skipped: the closure is recorded, nobody is
    asked."""
    return {
        "state": SurveyState.SKIPPED,
        "reason": reason,
        "deadline_at": None,
        "remind_at": None,
        "finished_at": now,
    }
