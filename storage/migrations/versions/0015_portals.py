"""Several Bitrix24 portals: the portals (secrets sealed) and which company goes to which

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

The settings' portal becomes the row `default` (number 0) when the service starts
(`bridge.outside.portals.ensure_default`), not here: a migration does not read the settings.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.tables import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(40), nullable=False, unique=True),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=True),
        sa.Column("api", sa.String(2), nullable=False),
        sa.Column("bot_code", sa.String(50), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=True),
        sa.Column("route_key", sa.String(32), nullable=True, unique=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("client_id", sa.Text(), nullable=True),
        sa.Column("bot_token", sa.Text(), nullable=True),
        sa.Column("events_token", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "portal_company",
        sa.Column("company_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("portal_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("company_id"),
    )
    op.create_index("ix_portal_company_portal_id", "portal_company", ["portal_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_company_portal_id", table_name="portal_company")
    op.drop_table("portal_company")
    op.drop_table("portal")
