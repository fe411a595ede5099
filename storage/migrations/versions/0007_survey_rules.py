"""The reminder's times, the engineer's id, and what events told about a person's language

For the reminder, who is asked, the automatic comment and the language of each person.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("survey") as batch:
        batch.add_column(sa.Column("remind_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("reminded_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("engineer_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_survey_remind_at", "survey", ["remind_at"])
    op.create_table(
        "chat_person",
        sa.Column("bitrix_user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_chat_person_seen_at", "chat_person", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_person_seen_at", table_name="chat_person")
    op.drop_table("chat_person")
    op.drop_index("ix_survey_remind_at", table_name="survey")
    with op.batch_alter_table("survey") as batch:
        for column in ("engineer_id", "reminded_at", "remind_at"):
            batch.drop_column(column)
