"""Jobs pending (queued or leased), by kind (`job_pending`): what /metrics shows at each scrape.

The database keeps the count itself, as it keeps the waiting surveys' (`waiting`): triggers on
`job` (migration 0022) append a row of +1 or -1 in the very transaction that queues a job,
finishes or fails it, or deletes a pending one. `fold` sums the rows into one per kind (the
worker does it every minute); a reader sums whatever rows there are, so it reads the same
either way: a few hundred rows at most, where counting the pending jobs themselves read 10,000
index entries at a million surveys (2.3 ms a scrape on SQLite), and more in a backlog.

None of these commits: the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, func, select
from sqlalchemy.engine import Connection
from sqlmodel import Column, Field, Session, SQLModel, col

from storage.columns import ROW_ID
from storage.reading.waiting import fold_counts
from storage.tables import JobKind


class JobPending(SQLModel, table=True):
    """+1 or -1 pending jobs of a kind (or, folded, a kind's sum)."""

    __tablename__ = "job_pending"

    id: int | None = Field(default=None, sa_column=Column(ROW_ID, primary_key=True))
    kind: str = Field(sa_column=Column(String(24), nullable=False))
    jobs: int = Field(sa_column=Column(Integer, nullable=False))


BY_KIND = select(col(JobPending.kind), func.sum(col(JobPending.jobs))).group_by(
    col(JobPending.kind)
)


def per_kind(reader: Session | Connection) -> dict[JobKind, int]:
    """Kind → jobs pending (kinds with none are absent)."""
    rows = reader.execute(BY_KIND).all()
    return {JobKind(kind): int(count) for kind, count in rows if count}


def fold(session: Session) -> None:
    """Sum the rows into one per kind (a kind with none pending keeps no row)."""
    fold_counts(session, table="job_pending", key="kind", amount="jobs")
