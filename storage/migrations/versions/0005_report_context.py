"""What reports group ratings by (group, company, type, priority) and test invitations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey") as batch:
        batch.add_column(sa.Column("engineer_group", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("company_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("company_name", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("type_code", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("priority_code", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_survey_created_at", "survey", ["created_at"])
    op.create_index("ix_survey_answered_at", "survey", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_survey_answered_at", table_name="survey")
    op.drop_index("ix_survey_created_at", table_name="survey")
    with op.batch_alter_table("survey") as batch:
        for column in (
            "is_test",
            "priority_code",
            "type_code",
            "company_name",
            "company_id",
            "engineer_group",
        ):
            batch.drop_column(column)
