"""The report's per-day counts: the surveys of each UTC day by engineer, group, score and
automatic or not, and how many of them were delivered (`survey_day`).

The database keeps them itself: triggers on `survey` (migration 0014) append a row of +1 or
-1 in the very transaction that inserts, changes or deletes a survey, so the counts are never
behind a committed change, whoever wrote it, and no two writers wait on one counter row.
`fold` sums each touched day's rows into one per key (the worker does it every minute); a
reader sums whatever rows there are, folded or not, so it reads the same either way.

Test invitations are never counted. A period here runs from one UTC midnight to another (a
report's `Period`), so a day is either wholly in it or not at all.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, case, func, select, text
from sqlmodel import Session, col

from storage.reading.report import Cell, Day
from storage.tables import SurveyDay

_KEY = (
    col(SurveyDay.engineer),
    col(SurveyDay.engineer_group),
    col(SurveyDay.score),
    col(SurveyDay.automatic),
)


def _kept(
    start: datetime, end: datetime, engineer: str | None, group: str | None
) -> list[ColumnElement[bool]]:
    kept = [col(SurveyDay.day) >= _day(start), col(SurveyDay.day) < _day(end)]
    if engineer:
        kept.append(col(SurveyDay.engineer) == engineer)
    if group:
        kept.append(col(SurveyDay.engineer_group) == group)
    return kept


def _day(moment: datetime) -> date:
    if moment.time() != datetime.min.time():
        raise ValueError(f"the per-day counts start and end at midnight, not {moment}")
    return moment.date()


def cells(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    engineer: str | None = None,
    group: str | None = None,
) -> list[Cell]:
    """`storage.reading.report.cells` of one engineer and group (None: any), from the counts."""
    surveys = func.sum(col(SurveyDay.surveys))
    rows = session.execute(
        select(*_KEY, surveys, func.sum(col(SurveyDay.delivered)))
        .where(*_kept(start, end, engineer, group))
        .group_by(*_KEY)
        .having(surveys != 0)
    ).all()
    return [Cell(r[0], r[1], r[2], bool(r[3]), int(r[4]), int(r[5])) for r in rows]


def days(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    engineer: str | None = None,
    group: str | None = None,
) -> list[Day]:
    """People's ratings of each day of the period that has any, from the counts."""
    ratings = func.sum(col(SurveyDay.surveys))
    good = func.sum(case((col(SurveyDay.score) >= 4, col(SurveyDay.surveys)), else_=0))
    rows = session.execute(
        select(col(SurveyDay.day), ratings, good)
        .where(
            *_kept(start, end, engineer, group),
            col(SurveyDay.score).is_not(None),
            col(SurveyDay.automatic).is_(False),
        )
        .group_by(col(SurveyDay.day))
        .having(ratings != 0)
    ).all()
    return [Day(day, int(count), int(good)) for day, count, good in rows]


_COLUMNS = "day, engineer, engineer_group, score, automatic, surveys, delivered, folded"
_KEY_SQL = "day, engineer, engineer_group, score, automatic"
_SUMS = "sum(surveys), sum(delivered)"
_NOT_NOTHING = "HAVING sum(surveys) <> 0 OR sum(delivered) <> 0"
# One statement, one snapshot: what it deletes is exactly what it sums, and a row appended by
# a transaction it cannot see stays for the next fold.
_FOLD_POSTGRES = f"""
WITH gone AS (
    DELETE FROM survey_day WHERE day IN (SELECT day FROM survey_day WHERE NOT folded)
    RETURNING {_COLUMNS})
INSERT INTO survey_day ({_COLUMNS})
SELECT {_KEY_SQL}, {_SUMS}, true FROM gone GROUP BY {_KEY_SQL} {_NOT_NOTHING}"""
# SQLite's transaction holds the write lock: nothing is appended between the two statements.
_TOUCHED = "day IN (SELECT day FROM survey_day WHERE NOT folded AND id <= :last) AND id <= :last"
_FOLD_SQLITE = (
    f"INSERT INTO survey_day ({_COLUMNS}) SELECT {_KEY_SQL}, {_SUMS}, 1 FROM survey_day "
    f"WHERE {_TOUCHED} GROUP BY {_KEY_SQL} {_NOT_NOTHING}",
    f"DELETE FROM survey_day WHERE {_TOUCHED}",
)


def fold(session: Session) -> None:
    """Sum the rows of every day that has rows appended since the last fold into one per key
    (a key whose surveys all moved away leaves no row)."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(text(_FOLD_POSTGRES))
        return
    last = session.execute(text("SELECT max(id) FROM survey_day")).scalar_one_or_none()
    if last is not None:
        for statement in _FOLD_SQLITE:
            session.execute(text(statement), {"last": last})
