"""Surveys waiting for an answer by portal (survey_waiting), kept by triggers on survey

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06

/metrics counted each portal's waiting surveys through `ix_survey_awaiting` at every scrape:
5-6 ms of its 11-15 ms with 91,000 waiting among a million surveys. Now every insert, delete
or change of a survey that makes it start or stop waiting in a portal appends a row of +1 or
-1 to `survey_waiting` in the same transaction (`storage.reading.waiting` reads and folds
them). The counts of the surveys already stored are built here, with the triggers in place
and `survey` locked, so nothing written meanwhile is missed or counted twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A survey counts while it waits in a portal (as `ix_survey_awaiting` holds it).
_OLD, _NEW = "OLD.state = 'awaiting'", "NEW.state = 'awaiting'"
_INSERT = "INSERT INTO survey_waiting (portal, surveys)"
SQLITE = [
    f"""CREATE TRIGGER survey_waiting_insert AFTER INSERT ON survey
    WHEN {_NEW} AND NEW.portal IS NOT NULL
    BEGIN {_INSERT} VALUES (NEW.portal, 1); END""",
    f"""CREATE TRIGGER survey_waiting_delete AFTER DELETE ON survey
    WHEN {_OLD} AND OLD.portal IS NOT NULL
    BEGIN {_INSERT} VALUES (OLD.portal, -1); END""",
    f"""CREATE TRIGGER survey_waiting_update AFTER UPDATE OF state, portal ON survey
    WHEN ({_OLD}) <> ({_NEW}) OR ({_NEW} AND OLD.portal IS NOT NEW.portal)
    BEGIN
        {_INSERT} SELECT OLD.portal, -1 WHERE {_OLD} AND OLD.portal IS NOT NULL;
        {_INSERT} SELECT NEW.portal, 1 WHERE {_NEW} AND NEW.portal IS NOT NULL;
    END""",
]
POSTGRES = [
    f"""CREATE FUNCTION survey_waiting_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF {_OLD} AND OLD.portal IS NOT NULL THEN
                {_INSERT} VALUES (OLD.portal, -1);
            END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF {_NEW} AND NEW.portal IS NOT NULL THEN
                {_INSERT} VALUES (NEW.portal, 1);
            END IF;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER survey_waiting_insert AFTER INSERT ON survey
    FOR EACH ROW WHEN ({_NEW}) EXECUTE FUNCTION survey_waiting_count()""",
    f"""CREATE TRIGGER survey_waiting_delete AFTER DELETE ON survey
    FOR EACH ROW WHEN ({_OLD}) EXECUTE FUNCTION survey_waiting_count()""",
    f"""CREATE TRIGGER survey_waiting_update AFTER UPDATE OF state, portal ON survey
    FOR EACH ROW WHEN (({_OLD}) <> ({_NEW}) OR ({_NEW} AND OLD.portal IS DISTINCT FROM NEW.portal))
    EXECUTE FUNCTION survey_waiting_count()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "survey_waiting",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
        ),
        sa.Column("portal", sa.Integer(), nullable=False),
        sa.Column("surveys", sa.Integer(), nullable=False),
    )
    if dialect == "postgresql":
        # No survey is written between the count below and the triggers taking over.
        op.execute("LOCK TABLE survey IN SHARE ROW EXCLUSIVE MODE")
    for statement in SQLITE if dialect == "sqlite" else POSTGRES:
        op.execute(statement)
    op.execute(
        f"{_INSERT} SELECT portal, count(*) FROM survey "
        "WHERE state = 'awaiting' AND portal IS NOT NULL GROUP BY portal"
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    on = " ON survey" if postgres else ""
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER survey_waiting_{name}{on}")
    if postgres:
        op.execute("DROP FUNCTION survey_waiting_count()")
    op.drop_table("survey_waiting")
