"""Indexes the purge reads instead of whole tables

Unpurged finished surveys, stale undeliverable surveys, finished jobs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_survey_purge", "survey", ["personal_data_purged", "finished_at"])
    op.create_index("ix_survey_state_updated", "survey", ["state", "updated_at"])
    op.create_index("ix_job_finished", "job", ["state", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_job_finished", table_name="job")
    op.drop_index("ix_survey_state_updated", table_name="survey")
    op.drop_index("ix_survey_purge", table_name="survey")
