"""What the bot posts to the team's chat: low ratings' alerts and the weekly digest

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "team_message",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sending_lease", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("posted_at", UTCDateTime(), nullable=True),
        sa.Column("unsure_at", UTCDateTime(), nullable=True),
        sa.Column("taken_by_id", sa.BigInteger(), nullable=True),
        sa.Column("taken_by", sa.String(length=100), nullable=True),
        sa.Column("taken_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["survey_id"], ["survey.id"]),
        sa.PrimaryKeyConstraint("key"),
        sa.UniqueConstraint("survey_id"),
    )


def downgrade() -> None:
    op.drop_table("team_message")
