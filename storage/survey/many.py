"""Changes of many surveys at once: a batch of invitations recorded in one statement of each
shape, where one statement a survey was a round trip each on PostgreSQL.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import bindparam, or_, update
from sqlmodel import Session

from storage import queue
from storage.sql import rowcount
from storage.survey import surveys
from storage.survey.fields import SurveyChange
from storage.tables import Survey, SurveyState

_SURVEYS = Survey.__table__  # type: ignore[attr-defined]


def apply_changes(session: Session, changes: Sequence[SurveyChange], *, now: datetime) -> set[int]:
    """`apply_change` for many surveys at once; the surveys changed. The changes of one shape
    (fields set, states from) go in one executemany, where one statement each was a round trip
    on PostgreSQL. When one of them no longer matches its row (the survey changed meanwhile),
    that shape is undone (a savepoint) and applied a change at a time, to know which did."""
    shapes: dict[tuple[tuple[str, ...], tuple[SurveyState, ...]], list[SurveyChange]] = {}
    for change in changes:
        names = tuple(sorted(surveys.fields_written(change, now)))
        shapes.setdefault((names, tuple(sorted(change.from_states))), []).append(change)
    applied: set[int] = set()
    for (names, from_states), alike in shapes.items():
        if _all_at_once(session, _changing_each(names, from_states), alike, now):
            applied |= {change.survey_id for change in alike}
        else:
            applied |= {c.survey_id for c in alike if surveys.apply_change(session, c, now=now)}
    return applied


def _all_at_once(
    session: Session, statement: Any, changes: Sequence[SurveyChange], now: datetime
) -> bool:
    """Apply changes of one shape and queue their jobs; False, with none applied, when one of
    them no longer matched its row."""
    rows = []
    for change in changes:
        written = surveys.fields_written(change, now)
        rows.append({"survey": change.survey_id, **{f"set_{k}": v for k, v in written.items()}})
    savepoint = session.begin_nested()
    if rowcount(session.connection().execute(statement, rows)) != len(changes):
        savepoint.rollback()
        return False
    savepoint.commit()
    for change in changes:
        for kind in change.jobs:
            queue.enqueue(session, kind=kind, now=now, survey_id=change.survey_id)
    return True


@cache
def _changing_each(names: tuple[str, ...], from_states: tuple[SurveyState, ...]) -> Any:
    """The UPDATE of changes setting these fields from these states, built once; the states
    written out, as an executemany takes no expanding list."""
    return (
        update(_SURVEYS)
        .where(_SURVEYS.c.id == bindparam("survey"))
        .where(or_(*(_SURVEYS.c.state == state for state in from_states)))
        .values({name: bindparam(f"set_{name}") for name in names})
    )
