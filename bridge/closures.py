"""A ticket's status change, as Okdesk's webhook tells it: a closure opens a survey, a move
back to work ends it. One short transaction, no vendor call: the invitation is queued."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bridge import reminders, workflow
from bridge.asking import opened_skipped, skip_reason
from bridge.decisions import ClosureDecision, decide_status_change
from bridge.okdesk.data import TicketContext
from bridge.settings import Settings
from storage import queue, surveys
from storage.db import transaction
from storage.tables import JobKind, Survey, SurveyState


@dataclass(frozen=True)
class StatusChange:
    """A ticket's move to a new status, as the Okdesk webhook told it."""

    issue_id: int
    new_status: str | None
    contact_id: int | None
    title: str | None
    engineer: str | None
    context: TicketContext = field(default_factory=TicketContext)
    # When Okdesk says the ticket was completed: with the ticket, it names this closure.
    closed_at: datetime | None = None


def record_status_change(
    engine: Engine, settings: Settings, change: StatusChange, now: datetime
) -> ClosureDecision:
    """Open, cancel or release the ticket's survey; queue what follows."""
    return record_status_changes(engine, settings, [(change, now)])[0]


def record_status_changes(
    engine: Engine, settings: Settings, changes: Sequence[tuple[StatusChange, datetime]]
) -> list[ClosureDecision]:
    """Several status changes in one transaction, in order, each decided as if alone."""
    with transaction(engine) as session:
        return [_record(session, settings, change, now) for change, now in changes]


def _record(
    session: Session, settings: Settings, change: StatusChange, now: datetime
) -> ClosureDecision:
    """Open, cancel or release one ticket's survey within `session`."""
    current = surveys.current_of(session, issue_id=change.issue_id)
    decision = decide_status_change(
        change.new_status,
        current,
        trigger_statuses=settings.okdesk_trigger_statuses,
        done_statuses=settings.done_statuses,
    )
    if decision is ClosureDecision.OPEN:
        return _open(session, settings, change, now)
    if current is not None:
        if decision is ClosureDecision.CANCEL:
            if not surveys.apply_change(session, workflow.reopened(current.id, now=now), now=now):
                surveys.apply_change(session, workflow.released(current.id), now=now)
        elif decision is ClosureDecision.RELEASE:
            surveys.apply_change(session, workflow.released(current.id), now=now)
    return decision


def _open(
    session: Session, settings: Settings, change: StatusChange, now: datetime
) -> ClosureDecision:
    deadline = now + settings.rating_timeout if settings.default_rating is not None else None
    survey = Survey(
        token=surveys.new_survey_token(),
        issue_id=change.issue_id,
        current_issue_id=change.issue_id,
        state=SurveyState.INVITING,
        language=settings.language,
        issue_title=change.title,
        engineer=change.engineer,
        engineer_group=change.context.group,
        company_id=change.context.company_id,
        company_name=change.context.company,
        type_code=change.context.type_code,
        priority_code=change.context.priority_code,
        engineer_id=change.context.engineer_id,
        contact_id=change.contact_id,
        created_at=now,
        updated_at=now,
        deadline_at=deadline,
        remind_at=reminders.remind_at(settings, now),
    )
    skip = skip_reason(settings, change.issue_id, change.closed_at, change.context)
    if skip is not None:
        survey = opened_skipped(survey, skip, now)
    survey_id = surveys.open_survey(session, survey=survey)
    if survey_id is None:
        return ClosureDecision.DUPLICATE
    if skip is None:
        queue.enqueue(session, kind=JobKind.INVITE, now=now, survey_id=survey_id)
    return ClosureDecision.OPEN
