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

REPORT_COLUMNS = ["created_at", "is_test", "automatic", "score"]
TEAM_COLUMNS = [
    "engineer",
    "engineer_group",
    "score",
    "automatic",
    "created_at",
    "is_test",
    "message_id",
]
COMMENT_COLUMNS = ["score", "answered_at", "created_at", "is_test", "automatic"]
COMMENTED = "reply_text IS NOT NULL AND reply_text <> ''"


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
    # The report: the trend reads the period's range, the tables walk the teams' index in
    # grouping order, and the comments come from a small partial index.
    op.create_index("ix_survey_report", "survey", REPORT_COLUMNS)
    op.create_index("ix_survey_teams", "survey", TEAM_COLUMNS)
    op.create_index(
        "ix_survey_comments",
        "survey",
        COMMENT_COLUMNS,
        sqlite_where=sa.text(COMMENTED),
        postgresql_where=sa.text(COMMENTED),
    )
    op.create_index("ix_survey_state_test", "survey", ["state", "is_test"])


def downgrade() -> None:
    op.drop_index("ix_survey_state_test", table_name="survey")
    op.drop_index("ix_survey_comments", table_name="survey")
    op.drop_index("ix_survey_teams", table_name="survey")
    op.drop_index("ix_survey_report", table_name="survey")
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
