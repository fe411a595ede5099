"""Which portal each survey's person was asked in: the report filters by portal

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06

The person's stored id names the portal (portal * 2^40 + id), but the purge forgets it; the
message id, which names it too, is kept. So the portal is filled from either, and from now on
set with the person's id and never purged. The per-day counts' triggers (0014) do not watch
this column, so the fill counts nothing twice. Partial index: a survey no one was found for takes
no room in it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "portal IS NOT NULL"
SPAN = 1 << 40


def upgrade() -> None:
    # Not a batch: SQLite adds a column in place, and the table's triggers (0014) stay.
    op.add_column("survey", sa.Column("portal", sa.Integer(), nullable=True))
    op.execute(
        f"UPDATE survey SET portal = COALESCE(bitrix_user_id, message_id) / {SPAN} "
        "WHERE bitrix_user_id IS NOT NULL OR message_id IS NOT NULL"
    )
    op.create_index(
        "ix_survey_portal",
        "survey",
        ["portal", "created_at"],
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_survey_portal", table_name="survey")
    op.drop_column("survey", "portal")
