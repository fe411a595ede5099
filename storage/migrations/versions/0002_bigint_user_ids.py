"""Contact and Bitrix24 user ids as BIGINT, like the ticket ids

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("contact_id", "bitrix_user_id", "rated_by")


def upgrade() -> None:
    # On SQLite (64-bit INTEGER anyway) batch mode rebuilds the table; PostgreSQL alters.
    with op.batch_alter_table("survey") as batch:
        for column in COLUMNS:
            batch.alter_column(column, type_=sa.BigInteger(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("survey") as batch:
        for column in COLUMNS:
            batch.alter_column(column, type_=sa.Integer(), existing_nullable=True)
