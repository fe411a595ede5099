"""A ticket's status change, as Okdesk's webhook tells it: a closure opens a survey, a move
back to work ends it. One short transaction, no vendor call: the invitation is queued."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bridge.config.settings import Settings
from bridge.okdesk.data import TicketContext
from bridge.rules import workflow
from bridge.rules.decisions import ClosureDecision, decide_status_change
from bridge.survey import reminders
from bridge.survey.asking import opened_skipped, skip_reason
from storage import queue
from storage.db import WriterBusyError, transaction, transaction_at_once
from storage.survey import surveys
from storage.survey.surveys import NewSurvey
from storage.tables import JobKind, SurveyState


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
    """Several status changes in one transaction, in order, each decided as if alone.

    Written in a few statements whatever the batch's size (one read of the tickets' current
    surveys, one insert of the new surveys, one of their invitations): against PostgreSQL
    every statement is a round trip, and a batch of sixteen waited for fifty of them.
    """
    with transaction(engine) as session:
        return _record(session, settings, changes)


def record_status_changes_at_once(
    engine: Engine, settings: Settings, changes: Sequence[tuple[StatusChange, datetime]]
) -> list[ClosureDecision] | None:
    """`record_status_changes` on the caller's thread, if the database lets it begin at once
    (`storage.db.transaction_at_once`); None, with nothing written, if it would wait."""
    try:
        with transaction_at_once(engine) as session:
            return _record(session, settings, changes)
    except WriterBusyError:
        return None


def _record(
    session: Session, settings: Settings, changes: Sequence[tuple[StatusChange, datetime]]
) -> list[ClosureDecision]:
    batch = _Batch(session, settings, [change.issue_id for change, _ in changes])
    for change, now in changes:
        batch.record(change, now)
    batch.flush()
    return batch.decisions


class _WarmUpDoneError(Exception):
    """Ends the warm-up's transaction, rolled back."""


def warm_up(engine: Engine, settings: Settings, now: datetime) -> None:
    """Write one closure and roll it back: the statements compiled and cached, a connection
    open. Otherwise the first webhooks after a start pay for that (tens of ms among them)."""
    closure = StatusChange(-1, settings.okdesk_trigger_statuses[0], None, None, None)
    with contextlib.suppress(_WarmUpDoneError), transaction(engine) as session:
        _record(session, settings, [(closure, now)])
        raise _WarmUpDoneError


class _Batch:
    """The status changes of one transaction, decided one by one against what the database
    held and what the batch did before them; new surveys are inserted together."""

    def __init__(self, session: Session, settings: Settings, issue_ids: list[int]) -> None:
        self.session = session
        self.settings = settings
        self.current = surveys.current_of_many(session, issue_ids=issue_ids)
        # Surveys opened by this batch and not inserted yet: ticket → (row, ask?, decision #).
        self.staged: dict[int, tuple[NewSurvey, bool, int]] = {}
        self.decisions: list[ClosureDecision] = []

    def record(self, change: StatusChange, now: datetime) -> None:
        """Decide one change: open (staged), cancel or release its ticket's survey."""
        issue_id = change.issue_id
        opening = change.new_status in self.settings.okdesk_trigger_statuses
        if issue_id in self.staged and not opening:
            self.flush()  # a reopening in the same batch needs the new survey's id
        staged = self.staged.get(issue_id)
        current = self.current.get(issue_id)
        decision = decide_status_change(
            change.new_status,
            surveys.CurrentSurvey(0, staged[0]["state"], None, False) if staged else current,
            trigger_statuses=self.settings.okdesk_trigger_statuses,
            done_statuses=self.settings.done_statuses,
        )
        if decision is ClosureDecision.OPEN:
            survey, ask = _new_survey(self.settings, change, now)
            self.staged[issue_id] = (survey, ask, len(self.decisions))
        elif current is not None and decision is ClosureDecision.CANCEL:
            if not surveys.apply_change(
                self.session, workflow.reopened(current.id, now=now), now=now
            ):
                surveys.apply_change(self.session, workflow.released(current.id), now=now)
            self.current.pop(issue_id)
        elif current is not None and decision is ClosureDecision.RELEASE:
            surveys.apply_change(self.session, workflow.released(current.id), now=now)
            self.current.pop(issue_id)
        self.decisions.append(decision)

    def flush(self) -> None:
        """Insert the staged surveys and queue their invitations. A ticket another replica
        opened meanwhile keeps that survey: its closure here is a duplicate."""
        staged, self.staged = self.staged, {}
        if not staged:
            return
        opened = surveys.open_surveys(self.session, [survey for survey, _, _ in staged.values()])
        invite: list[tuple[int, datetime]] = []
        for issue_id, (survey, ask, index) in staged.items():
            survey_id = opened.get(issue_id)
            if survey_id is None:
                self.decisions[index] = ClosureDecision.DUPLICATE
                continue
            self.current[issue_id] = surveys.CurrentSurvey(survey_id, survey["state"], None, False)
            if ask:
                invite.append((survey_id, survey["created_at"]))
        queue.enqueue_many(self.session, kind=JobKind.INVITE, jobs=invite)


def _new_survey(settings: Settings, change: StatusChange, now: datetime) -> tuple[NewSurvey, bool]:
    """The survey a closure opens, and whether anybody is to be asked."""
    deadline = now + settings.rating_timeout if settings.default_rating is not None else None
    survey = surveys.new_survey(
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
        survey.update(opened_skipped(skip, now))
    return survey, skip is None
