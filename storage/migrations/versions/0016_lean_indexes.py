"""Indexes that serve a query each: /metrics' pending jobs, the sweeps' due rows only; one unused goes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

`ix_job_pending` holds only pending jobs, with their kind: /metrics counts them from it alone. The
sweeps' times (`deadline_at`, `remind_at`, `change_until`) are set only while a survey waits
for one, so their indexes keep only those rows instead of a NULL for every survey ever opened.
`ix_survey_finished_at` served nothing: the purge reads `ix_survey_purge`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHILE_DUE = ("deadline_at", "remind_at", "change_until")


def _where(condition: str) -> dict[str, sa.TextClause]:
    return {f"{name}_where": sa.text(condition) for name in ("sqlite", "postgresql")}


def upgrade() -> None:
    op.create_index("ix_job_pending", "job", ["state", "kind"], **_where("state = 'pending'"))
    for column in WHILE_DUE:
        op.drop_index(f"ix_survey_{column}", table_name="survey")
        op.create_index(
            f"ix_survey_{column}", "survey", [column], **_where(f"{column} IS NOT NULL")
        )
    op.drop_index("ix_survey_finished_at", table_name="survey")


def downgrade() -> None:
    op.create_index("ix_survey_finished_at", "survey", ["finished_at"])
    for column in WHILE_DUE:
        op.drop_index(f"ix_survey_{column}", table_name="survey")
        op.create_index(f"ix_survey_{column}", "survey", [column])
    op.drop_index("ix_job_pending", table_name="job")
