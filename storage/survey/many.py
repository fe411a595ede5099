"""Changes of many surveys at once: a batch of invitations recorded in one statement of each
shape, where one statement a survey was a round trip each on PostgreSQL.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from storage import queue
from storage.survey import surveys
from storage.survey.bulk import ManyUpdates
from storage.survey.fields import SurveyChange
from storage.tables import SurveyState

# Changes of one shape, each with its row of the UPDATE (`surveys.change_fields`, and its id).
Rows = list[tuple[SurveyChange, dict[str, Any]]]


def apply_changes(session: Session, changes: Sequence[SurveyChange], *, now: datetime) -> set[int]:
    """`apply_change` for many surveys at once; the surveys changed. The changes of one shape
    (fields set, states from) go in one statement, where one statement each was a round trip
    on PostgreSQL. When one of them no longer matches its row (the survey changed meanwhile),
    that shape is undone (a savepoint) and applied a change at a time, to know which did."""
    shapes: dict[tuple[tuple[str, ...], tuple[SurveyState, ...]], Rows] = {}
    for change in changes:
        fields = surveys.change_fields(change, now)
        names, row = tuple(sorted(fields)), {"id": change.survey_id, **fields}
        shapes.setdefault((names, tuple(sorted(change.from_states))), []).append((change, row))
    applied: set[int] = set()
    for (names, from_states), alike in shapes.items():
        if _all_at_once(session, surveys.changing_many(names, from_states), alike, now):
            applied |= {change.survey_id for change, _ in alike}
        else:
            applied |= {c.survey_id for c, _ in alike if surveys.apply_change(session, c, now=now)}
    return applied


def _all_at_once(session: Session, statement: ManyUpdates, alike: Rows, now: datetime) -> bool:
    """Apply changes of one shape and queue their jobs; False, with none applied, when one of
    them no longer matched its row."""
    savepoint = session.begin_nested()
    if statement.execute(session.connection(), [row for _, row in alike]) != len(alike):
        savepoint.rollback()
        return False
    savepoint.commit()
    for change, _ in alike:
        for kind in change.jobs:
            queue.enqueue(session, kind=kind, now=now, survey_id=change.survey_id)
    return True
