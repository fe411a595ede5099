"""Surveys waiting for an answer, by portal (`survey_waiting`): what /metrics and `portal list`
show at each read.

The database keeps the count itself, as it keeps the report's per-day counts (`daily`):
triggers on `survey` (migration 0021) append a row of +1 or -1 in the very transaction that
makes a survey start or stop waiting (its state becomes or stops being `awaiting`), moves a
waiting one to another portal, or deletes one. A survey without a portal counts nowhere, a
test invitation's in its portal. `fold` sums the rows into one per portal (the worker does it
every minute with the per-day counts); a reader sums whatever rows there are, so it reads the
same either way: a few hundred rows at most, where counting the waiting surveys themselves
read 91,000 index entries at a million surveys (5-6 ms a scrape on SQLite).

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import Integer, func, select, text
from sqlmodel import Column, Field, Session, SQLModel, col

from storage.columns import ROW_ID


class SurveyWaiting(SQLModel, table=True):
    """+1 or -1 surveys waiting in a portal (or, folded, a portal's sum)."""

    __tablename__ = "survey_waiting"

    id: int | None = Field(default=None, sa_column=Column(ROW_ID, primary_key=True))
    portal: int = Field(sa_column=Column(Integer, nullable=False))
    surveys: int


def per_portal(session: Session) -> dict[int, int]:
    """Portal number → surveys waiting there (portals with none are absent)."""
    rows = session.execute(
        select(col(SurveyWaiting.portal), func.sum(col(SurveyWaiting.surveys))).group_by(
            col(SurveyWaiting.portal)
        )
    ).all()
    return {int(portal): int(count) for portal, count in rows if count}


_COLUMNS = "portal, surveys"
_SUM = "SELECT portal, sum(surveys) FROM {rows} GROUP BY portal HAVING sum(surveys) <> 0"
# One statement, one snapshot: what it deletes is exactly what it sums, and a row appended by
# a transaction it cannot see stays for the next fold.
_FOLD_POSTGRES = (
    f"WITH gone AS (DELETE FROM survey_waiting RETURNING {_COLUMNS}) "
    f"INSERT INTO survey_waiting ({_COLUMNS}) {_SUM.format(rows='gone')}"
)
# SQLite's transaction holds the write lock: nothing is appended between the two statements.
_FOLD_SQLITE = (
    f"INSERT INTO survey_waiting ({_COLUMNS}) "
    + _SUM.format(rows="(SELECT * FROM survey_waiting WHERE id <= :last)"),
    "DELETE FROM survey_waiting WHERE id <= :last",
)


def fold(session: Session) -> None:
    """Sum the rows into one per portal (a portal with none waiting keeps no row); nothing is
    written while each portal has one row."""
    last, extra = session.execute(
        text("SELECT max(id), count(*) - count(DISTINCT portal) FROM survey_waiting")
    ).one()
    if not extra:
        return
    if session.get_bind().dialect.name != "sqlite":
        session.execute(text(_FOLD_POSTGRES))
        return
    for statement in _FOLD_SQLITE:
        session.execute(text(statement), {"last": last})
