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
from sqlalchemy.engine import Connection
from sqlmodel import Column, Field, Session, SQLModel, col

from storage.columns import ROW_ID


class SurveyWaiting(SQLModel, table=True):
    """+1 or -1 surveys waiting in a portal (or, folded, a portal's sum)."""

    __tablename__ = "survey_waiting"

    id: int | None = Field(default=None, sa_column=Column(ROW_ID, primary_key=True))
    portal: int = Field(sa_column=Column(Integer, nullable=False))
    surveys: int


PER_PORTAL = select(col(SurveyWaiting.portal), func.sum(col(SurveyWaiting.surveys))).group_by(
    col(SurveyWaiting.portal)
)


def per_portal(reader: Session | Connection) -> dict[int, int]:
    """Portal number → surveys waiting there (portals with none are absent)."""
    rows = reader.execute(PER_PORTAL).all()
    return {int(portal): int(count) for portal, count in rows if count}


def fold(session: Session) -> None:
    """Sum the rows into one per portal (a portal with none waiting keeps no row); nothing is
    written while each portal has one row."""
    fold_counts(session, table="survey_waiting", key="portal", amount="surveys")


def fold_counts(session: Session, *, table: str, key: str, amount: str) -> None:
    """Sum the +1/-1 rows of a table of counts kept by triggers (`survey_waiting`,
    `storage.reading.pending`'s `job_pending`) into one per key (a key summing to nothing keeps
    no row); nothing is written while each key has one row."""
    last, extra = session.execute(
        text(f"SELECT max(id), count(*) - count(DISTINCT {key}) FROM {table}")
    ).one()
    if not extra:
        return
    columns = f"{key}, {amount}"
    total = f"SELECT {key}, sum({amount}) FROM {{rows}} GROUP BY {key} HAVING sum({amount}) <> 0"
    if session.get_bind().dialect.name != "sqlite":
        # One statement, one snapshot: what it deletes is exactly what it sums, and a row
        # appended by a transaction it cannot see stays for the next fold.
        gone = f"WITH gone AS (DELETE FROM {table} RETURNING {columns}) "
        session.execute(
            text(gone + f"INSERT INTO {table} ({columns}) " + total.format(rows="gone"))
        )
        return
    # SQLite's transaction holds the write lock: nothing is appended between the two statements.
    upto = f"(SELECT * FROM {table} WHERE id <= :last)"
    session.execute(
        text(f"INSERT INTO {table} ({columns}) " + total.format(rows=upto)), {"last": last}
    )
    session.execute(text(f"DELETE FROM {table} WHERE id <= :last"), {"last": last})
