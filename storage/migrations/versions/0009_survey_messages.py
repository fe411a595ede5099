"""Every bot message that carries a survey's buttons, so all lose them when it ends

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_survey_message_survey_id", "survey_message", ["survey_id"])
    op.create_index("ix_survey_message_message_id", "survey_message", ["message_id"])


def downgrade() -> None:
    op.drop_index("ix_survey_message_message_id", table_name="survey_message")
    op.drop_index("ix_survey_message_survey_id", table_name="survey_message")
    op.drop_table("survey_message")
