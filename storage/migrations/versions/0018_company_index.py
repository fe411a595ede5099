"""An index of the surveys of each company: the report filtered by a company reads only those

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06

The per-day counts serve the page unfiltered and by engineer or group; a company filter counts
the period's surveys directly, and read every survey of the period to find one company's (0.9 s
with 100,000 surveys). Partial: surveys with no company take no room in it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WHERE = "company_name IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_survey_company",
        "survey",
        ["company_name", "created_at"],
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    op.drop_index("ix_survey_company", table_name="survey")
