"""Surveys: opening one per closure, finding them, and applying the workflow's changes.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic_core import PydanticUndefined
from sqlalchemy import ColumnElement, bindparam, func, or_, update
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from storage import queue
from storage.portals import SPAN
from storage.sql import rowcount
from storage.survey.bulk import ManyRows, ManyUpdates
from storage.survey.fields import SurveyChange, SurveyFields
from storage.tables import Survey, SurveyState


def apply_change(
    session: Session,
    change: SurveyChange,
    *,
    now: datetime,
    guard: Sequence[ColumnElement[bool]] = (),
) -> bool:
    """Apply `change` if the survey is still in one of its `from_states` (and matches every
    condition in `guard`), and queue its jobs.

    Every change of a survey goes through here: of two racing changes exactly one matches the
    row. True when it applied.
    """
    fields = change_fields(change, now)
    names = tuple(sorted(fields))
    row = {"survey": change.survey_id, **{f"set_{name}": fields[name] for name in names}}
    statement = _changing(names)
    if guard:
        statement = statement.where(*guard)
    result = session.connection().execute(
        statement, {**row, "from_states": sorted(change.from_states)}
    )
    if rowcount(result) != 1:
        return False
    for kind in change.jobs:
        queue.enqueue(session, kind=kind, now=now, survey_id=change.survey_id)
    return True


def change_fields(change: SurveyChange, now: datetime) -> dict[str, Any]:
    """The columns a change writes: its fields, the portal its person's id names, the time
    (their names, sorted, are its UPDATE's shape)."""
    return {**change.fields, **_portal(change.fields), "updated_at": now}


@cache
def _changing(names: tuple[str, ...]) -> Any:
    """The UPDATE of a change setting these fields, built once (as `_CURRENT` is)."""
    return _setting(names).where(_SURVEYS.c.state.in_(bindparam("from_states", expanding=True)))


@cache
def changing_many(names: tuple[str, ...], from_states: tuple[SurveyState, ...]) -> ManyUpdates:
    """`_changing` for many changes from these states at once (`storage.survey.many`): the
    states written out, as SQLite's executemany takes no expanding list."""
    where = [or_(*(_SURVEYS.c.state == state for state in from_states))]
    return ManyUpdates(_SURVEYS, "id", names, where=where)


def _setting(names: tuple[str, ...]) -> Any:
    """The UPDATE of one survey (`survey`) setting these fields (`set_<name>`)."""
    return (
        update(_SURVEYS)
        .where(_SURVEYS.c.id == bindparam("survey"))
        .values({name: bindparam(f"set_{name}") for name in names})
    )


def _portal(fields: SurveyFields) -> dict[str, int]:
    """The portal a person's id names, set with it (`storage.tables.Survey.portal`)."""
    user = fields.get("bitrix_user_id")
    return {} if user is None else {"portal": user // SPAN}


def new_survey_token() -> str:
    """An unguessable survey id for button parameters (96 random bits)."""
    return secrets.token_urlsafe(12)


@dataclass(frozen=True)
class CurrentSurvey:
    """What a status change needs of the ticket's current survey (a `SurveyView`)."""

    id: int
    state: SurveyState
    bitrix_user_id: int | None
    automatic: bool


# Built once: executed with its parameters apart, a statement is compiled once and then taken
# from SQLAlchemy's cache. Building it per call costs the cache key of every value (~0.3 ms of a
# webhook's 1 ms on the write path, measured with py-spy).
_SURVEYS = Survey.__table__  # type: ignore[attr-defined]
_CURRENT = select_columns(
    _SURVEYS.c.current_issue_id,
    _SURVEYS.c.id,
    _SURVEYS.c.state,
    _SURVEYS.c.bitrix_user_id,
    _SURVEYS.c.automatic,
).where(_SURVEYS.c.current_issue_id.in_(bindparam("issue_ids", expanding=True)))
_OPEN = ManyRows(
    _SURVEYS,
    [column.name for column in _SURVEYS.c if column.name != "id"],
    lambda insert: insert.on_conflict_do_nothing(index_elements=["current_issue_id"]).returning(
        _SURVEYS.c.issue_id, _SURVEYS.c.id
    ),
)


# A survey to be opened: its columns, as `Survey(...).model_dump()` gives them.
NewSurvey = dict[str, Any]


def new_survey(**values: Any) -> NewSurvey:
    """The row `Survey(**values)` would insert (every other column at its default), built
    without the ORM object: SQLAlchemy instruments each attribute as it is set, which cost a
    fifth of a closure's write."""
    return {**_defaults(), **values}


@cache
def _defaults() -> dict[str, Any]:
    fields = Survey.model_fields.items()
    return {
        name: field.default
        for name, field in fields
        if name != "id" and field.default is not PydanticUndefined
    }


def open_survey(session: Session, *, survey: Survey) -> int | None:
    """Insert `survey` (as its ticket's current survey, if it names it current); None when the
    ticket already has a current one."""
    return open_surveys(session, [survey.model_dump(exclude={"id"})]).get(survey.issue_id)


def open_surveys(session: Session, rows: Sequence[NewSurvey]) -> dict[int, int]:
    """Insert the surveys (of different tickets) in one statement; ticket → new id. A survey
    made its ticket's current one when the ticket already has a current one is not inserted,
    and its ticket is missing from the answer."""
    if not rows:
        return {}
    # A survey opened with its person known (a test invitation) is of that person's portal.
    rows = [
        {**row, "portal": row["bitrix_user_id"] // SPAN} if row.get("bitrix_user_id") else row
        for row in rows
    ]
    found = _OPEN.execute(session.connection(), rows).all()
    return {int(issue_id): int(survey_id) for issue_id, survey_id in found}


def current_of_many(session: Session, *, issue_ids: Sequence[int]) -> dict[int, CurrentSurvey]:
    """The id and state of each ticket's current survey, for the tickets that have one."""
    if not issue_ids:
        return {}
    found = session.connection().execute(_CURRENT, {"issue_ids": sorted(set(issue_ids))})
    return {
        int(row[0]): CurrentSurvey(int(row[1]), SurveyState(row[2]), row[3], bool(row[4]))
        for row in found
    }


def rates_written(session: Session, *, issue_ids: Sequence[int]) -> dict[int, str]:
    """Each ticket's rating as Okdesk showed it after our latest survey of it that wrote one."""
    rows = session.exec(
        select(Survey.issue_id, Survey.okdesk_rate)
        .where(col(Survey.issue_id).in_(set(issue_ids)), col(Survey.okdesk_rate).is_not(None))
        .order_by(col(Survey.id))
    ).all()
    return {int(issue_id): str(rate) for issue_id, rate in rows}


def current_survey(session: Session, *, issue_id: int) -> Survey | None:
    """The survey of the ticket's latest closure, unless the ticket was reopened since."""
    return session.exec(select(Survey).where(Survey.current_issue_id == issue_id)).first()


def get_survey(session: Session, *, survey_id: int, lock: bool = False) -> Survey | None:
    """The survey with this id (`lock`: its row, until the transaction ends)."""
    if lock:
        return session.get(Survey, survey_id, with_for_update=True, populate_existing=True)
    return session.get(Survey, survey_id)


def survey_by_token(session: Session, *, token: str) -> Survey | None:
    """The survey whose buttons carry `token`."""
    return session.exec(select(Survey).where(Survey.token == token)).first()


def latest_awaiting_survey(session: Session, *, bitrix_user_id: int) -> Survey | None:
    """The user's most recent survey that still waits for an answer."""
    statement = (
        select(Survey)
        .where(Survey.bitrix_user_id == bitrix_user_id, Survey.state == SurveyState.AWAITING)
        .order_by(col(Survey.created_at).desc(), col(Survey.id).desc())
        .limit(1)
    )
    return session.exec(statement).first()


def awaiting_surveys(session: Session, *, bitrix_user_id: int) -> list[Survey]:
    """All the user's surveys that wait for an answer, newest first."""
    statement = (
        select(Survey)
        .where(Survey.bitrix_user_id == bitrix_user_id, Survey.state == SurveyState.AWAITING)
        .order_by(col(Survey.created_at).desc(), col(Survey.id).desc())
    )
    return list(session.exec(statement).all())


_SET_RECIPIENTS = ManyUpdates(
    _SURVEYS, "id", ["bitrix_user_id", "portal"], where=[_SURVEYS.c.bitrix_user_id.is_(None)]
)


def set_recipients(session: Session, *, recipients: dict[int, int]) -> None:
    """Record who each survey is about to be sent to (survey id → Bitrix24 user id, whose
    portal it names), in one statement."""
    rows = [
        {"id": survey, "bitrix_user_id": user, "portal": user // SPAN}
        for survey, user in recipients.items()
    ]
    _SET_RECIPIENTS.execute(session.connection(), rows)


def due_for_timeout(session: Session, *, now: datetime, limit: int) -> Sequence[Survey]:
    """Surveys whose deadline passed (an index range scan: only due rows are read)."""
    return due_by(session, Survey.deadline_at, now=now, limit=limit)


def due_by(
    session: Session, when: datetime | None, *, now: datetime, limit: int
) -> Sequence[Survey]:
    """Surveys whose time in the indexed column `when` passed, earliest first."""
    return session.exec(due_statement(when, now=now, limit=limit)).all()


def due_statement(when: datetime | None, *, now: datetime, limit: int) -> SelectOfScalar[Survey]:
    """The query of `due_by`: a range of the column's index, which holds due rows only."""
    return select(Survey).where(col(when) <= now).order_by(col(when)).limit(limit)


def failed_surveys(session: Session, *, limit: int) -> Sequence[Survey]:
    """The most recently failed surveys."""
    statement = (
        select(Survey)
        .where(Survey.state == SurveyState.FAILED)
        .order_by(col(Survey.updated_at).desc())
        .limit(limit)
    )
    return session.exec(statement).all()


def count_surveys_by_state(session: Session) -> dict[str, int]:
    """How many surveys are in each state."""
    rows = session.execute(
        select_columns(col(Survey.state), func.count()).group_by(Survey.state)
    ).all()
    return {str(state): int(count) for state, count in rows}
