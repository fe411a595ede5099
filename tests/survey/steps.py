"""What the survey tests do besides what `tests.fast.harness.Service` offers: press
«Изменить оценку», read the history, close a second ticket."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from bridge.survey.replies.changes import press_change
from storage.db import transaction
from storage.survey import changes
from storage.tables import RatingChange, SurveyState
from tests.fast.harness import USER_ID, Service, closed_ticket

# The documented defaults (example.env); the shared harness switches these off.
DEFAULTS: dict[str, Any] = {
    "followup_max_score": "3",
    "followup_window": "24h",
    "change_window": "1h",
}


def survey_service(engine: Engine, database_url: str) -> Service:
    """A service whose survey settings are the documented defaults."""
    service = Service(engine, database_url)
    service.configure(**DEFAULTS)
    return service


def configure(service: Service, **overrides: Any) -> None:
    """The documented defaults with some settings changed."""
    service.configure(**{**DEFAULTS, **overrides})


def press_change_button(
    service: Service,
    *,
    token: str | None = None,
    user_id: int = USER_ID,
    changes_made: int | None = -1,
) -> str:
    """The person presses «Изменить оценку» under the thank-you (by default the button as the
    latest thank-you draws it; `changes_made=None`: one drawn before it carried the count)."""
    survey = service.survey()
    return press_change(
        service.engine,
        service.settings,
        token=token or survey.token,
        changes_made=survey.changes_made if changes_made == -1 else changes_made,
        user_id=user_id,
        now=service.clock.now(),
    )


def history(
    service: Service, survey_id: int | None = None
) -> list[tuple[int, int, int | None, str]]:
    """The survey's changes of score: (from, to, by whom, click or text)."""
    wanted = survey_id if survey_id is not None else service.survey().id
    assert wanted is not None
    with transaction(service.engine) as session:
        rows: list[RatingChange] = changes.history(session, survey_id=wanted)
        return [(r.from_score, r.to_score, r.changed_by, r.source) for r in rows]


def add_ticket(service: Service, issue_id: int) -> None:
    """Another closed ticket of the same requester, in the helpdesk."""
    service.helpdesk.tickets[issue_id] = closed_ticket(issue_id)


async def rated(service: Service, score: int) -> None:
    """The ticket is closed, the invitation sent, and the person clicks `score`."""
    service.close()
    await service.drain()
    assert service.click(score) == "rated"
    await service.drain()
    assert service.survey().state == SurveyState.RATED
