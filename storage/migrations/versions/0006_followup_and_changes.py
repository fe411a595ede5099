"""The follow-up question and its answer, the change-of-mind window, and the history of changes

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.tables

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = ("followup_asked_at", "followup_until", "followup_at", "followup_posted_at")


def _time(name: str) -> sa.Column[object]:
    return sa.Column(name, storage.tables.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("survey") as batch:
        for name in _WHEN:
            batch.add_column(_time(name))
        batch.add_column(sa.Column("followup_text", sa.Text(), nullable=True))
        batch.add_column(_time("change_until"))
        batch.add_column(
            sa.Column("changing", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_survey_change_until", "survey", ["change_until"])
    op.create_table(
        "rating_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("survey_id", sa.Integer(), sa.ForeignKey("survey.id"), nullable=False),
        sa.Column("from_score", sa.Integer(), nullable=False),
        sa.Column("to_score", sa.Integer(), nullable=False),
        sa.Column("changed_at", storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
    )
    op.create_index("ix_rating_change_survey_id", "rating_change", ["survey_id"])


def downgrade() -> None:
    op.drop_index("ix_rating_change_survey_id", table_name="rating_change")
    op.drop_table("rating_change")
    op.drop_index("ix_survey_change_until", table_name="survey")
    with op.batch_alter_table("survey") as batch:
        for name in ("changing", "change_until", "followup_text", *reversed(_WHEN)):
            batch.drop_column(name)
