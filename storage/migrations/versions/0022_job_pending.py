"""Pending jobs by kind (job_pending), kept by triggers on job

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

/metrics counted the pending jobs by kind through `ix_job_pending` at every scrape: 2.3 ms of
its 6-7 ms read with 10,000 pending among a million surveys' jobs, and it grows with a backlog
(a vendor down for an hour). Now every insert, delete or change of a job that makes it start
or stop being pending, or changes a pending job's kind, appends a row of +1 or -1 to
`job_pending` in the same transaction (`storage.reading.pending` reads and folds them), as
migration 0021 does for the waiting surveys. A lease, a retry's new time or an attempt changes
no counted column: the triggers fire on `state` and `kind` only. The counts of the jobs already
stored are built here, with the triggers in place and `job` locked, so nothing written
meanwhile is missed or counted twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A job counts while it is pending (as `ix_job_pending` holds it).
_OLD, _NEW = "OLD.state = 'pending'", "NEW.state = 'pending'"
_INSERT = "INSERT INTO job_pending (kind, jobs)"
SQLITE = [
    f"""CREATE TRIGGER job_pending_insert AFTER INSERT ON job
    WHEN {_NEW}
    BEGIN {_INSERT} VALUES (NEW.kind, 1); END""",
    f"""CREATE TRIGGER job_pending_delete AFTER DELETE ON job
    WHEN {_OLD}
    BEGIN {_INSERT} VALUES (OLD.kind, -1); END""",
    f"""CREATE TRIGGER job_pending_update AFTER UPDATE OF state, kind ON job
    WHEN ({_OLD}) <> ({_NEW}) OR ({_NEW} AND OLD.kind <> NEW.kind)
    BEGIN
        {_INSERT} SELECT OLD.kind, -1 WHERE {_OLD};
        {_INSERT} SELECT NEW.kind, 1 WHERE {_NEW};
    END""",
]
POSTGRES = [
    f"""CREATE FUNCTION job_pending_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF {_OLD} THEN
                {_INSERT} VALUES (OLD.kind, -1);
            END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF {_NEW} THEN
                {_INSERT} VALUES (NEW.kind, 1);
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER job_pending_insert AFTER INSERT ON job
    FOR EACH ROW WHEN ({_NEW}) EXECUTE FUNCTION job_pending_count()""",
    f"""CREATE TRIGGER job_pending_delete AFTER DELETE ON job
    FOR EACH ROW WHEN ({_OLD}) EXECUTE FUNCTION job_pending_count()""",
    f"""CREATE TRIGGER job_pending_update AFTER UPDATE OF state, kind ON job
    FOR EACH ROW WHEN (({_OLD}) <> ({_NEW}) OR ({_NEW} AND OLD.kind <> NEW.kind))
    EXECUTE FUNCTION job_pending_count()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "job_pending",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
        ),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
    )
    if dialect == "postgresql":
        # No job is written between the count below and the triggers taking over.
        op.execute("LOCK TABLE job IN SHARE ROW EXCLUSIVE MODE")
    for statement in SQLITE if dialect == "sqlite" else POSTGRES:
        op.execute(statement)
    op.execute(f"{_INSERT} SELECT kind, count(*) FROM job WHERE state = 'pending' GROUP BY kind")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    on = " ON job" if postgres else ""
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER job_pending_{name}{on}")
    if postgres:
        op.execute("DROP FUNCTION job_pending_count()")
    op.drop_table("job_pending")
