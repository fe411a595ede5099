"""What the team tests do besides `tests.fast.harness.Service`: a closure that names the group
and the company, the team's chat, and a press of «Беру» as the events route hands it on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from bridge.okdesk.context import TicketContext
from bridge.survey.closures import StatusChange, record_status_change
from bridge.team.taking import take
from storage.db import transaction
from storage.survey import surveys
from storage.tables import Survey, SurveyState
from tests.fast.fakes import Posted
from tests.fast.harness import (
    CONTACT_ID,
    ENGINEER,
    ENGINEER_ID,
    ISSUE_ID,
    TITLE,
    USER_ID,
    Service,
)

TEAM_CHAT = "chat77"
LEAD_ID, LEAD = 52, "Мария Лебедева"
GROUP, COMPANY = "Первая линия", "ООО Ромашка"
SETTINGS: dict[str, Any] = {
    "alert_dialog_id": TEAM_CHAT,
    "followup_max_score": "3",
    "followup_window": "24h",
}


def team_service(engine: Engine, database_url: str, **overrides: Any) -> Service:
    """A service that tells the team's chat of low ratings."""
    service = Service(engine, database_url)
    service.configure(**{**SETTINGS, **overrides})
    return service


def close_with_context(service: Service, issue_id: int = ISSUE_ID) -> None:
    """Okdesk's webhook closes the ticket, naming the engineer's group and the company."""
    context = TicketContext(group=GROUP, company_id=2058, company=COMPANY, engineer_id=ENGINEER_ID)
    change = StatusChange(issue_id, "closed", CONTACT_ID, TITLE, ENGINEER, context)
    record_status_change(service.engine, service.settings, change, service.clock.now())


def team_chat(service: Service) -> list[Posted]:
    """The bot's messages in the team's chat, oldest first."""
    return service.messenger.dialog(TEAM_CHAT)


def press_take(
    service: Service,
    *,
    dialog_id: str = TEAM_CHAT,
    user_id: int = LEAD_ID,
    message_id: int | None = None,
) -> bool:
    """Someone in the team's chat presses «Беру» under the alert (its survey's button)."""
    survey = service.survey()
    assert survey.id is not None
    return take(
        service.engine,
        service.settings,
        survey_id=survey.id,
        user_id=user_id,
        name=LEAD,
        dialog_id=dialog_id,
        message_id=message_id,
        now=service.clock.now(),
    )


def seed_rating(
    service: Service,
    issue_id: int,
    created_at: datetime,
    *,
    engineer: str,
    score: int | None,
    automatic: bool = False,
    handled: bool = False,
) -> None:
    """A survey of the past, delivered (it has its message), as the report counts it: rated
    `score` (None: still waiting), by the person or automatically."""
    survey = Survey(
        token=surveys.new_survey_token(),
        issue_id=issue_id,
        state=SurveyState.AWAITING if score is None else SurveyState.RATED,
        language="ru",
        engineer=engineer,
        bitrix_user_id=USER_ID,
        message_id=issue_id,
        score=score,
        automatic=automatic,
        created_at=created_at,
        updated_at=created_at,
        answered_at=created_at if score is not None else None,
        handled_at=created_at if handled else None,
        handled_by="admin" if handled else None,
    )
    with transaction(service.engine) as session:
        session.add(survey)
