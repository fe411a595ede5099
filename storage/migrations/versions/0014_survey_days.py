"""The report's per-day counts (survey_day), kept by triggers on survey; the index they replace goes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

Every insert, delete or change of a survey that moves it between counts appends rows of +1
and -1 to `survey_day` in the same transaction (`storage.reading.daily` reads and folds them).
The counts of the surveys already stored are built here, with the triggers in place and
`survey` locked, so nothing written meanwhile is missed or counted twice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "day, engineer, engineer_group, score, automatic, surveys, delivered, folded"
# What moves a survey from one count to another.
_COUNTED = ("created_at", "is_test", "engineer", "engineer_group", "score", "automatic")
_MOVED_SQLITE = " OR ".join(
    [f"OLD.{c} IS NOT NEW.{c}" for c in _COUNTED]
    + ["(OLD.message_id IS NULL) IS NOT (NEW.message_id IS NULL)"]
)
_MOVED_POSTGRES = " OR ".join(
    [f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _COUNTED]
    + ["(OLD.message_id IS NULL) <> (NEW.message_id IS NULL)"]
)


def _sqlite_row(row: str, sign: str) -> str:
    return (
        f"substr({row}.created_at, 1, 10), {row}.engineer, {row}.engineer_group, {row}.score, "
        f"{row}.automatic, {sign}1, {sign}({row}.message_id IS NOT NULL), 0"
    )


def _postgres_row(row: str, sign: str) -> str:
    return (
        f"({row}.created_at AT TIME ZONE 'UTC')::date, {row}.engineer, {row}.engineer_group, "
        f"{row}.score, {row}.automatic, {sign}1, {sign}({row}.message_id IS NOT NULL)::int, false"
    )


_INSERT = f"INSERT INTO survey_day ({_COLUMNS})"
SQLITE = [
    f"""CREATE TRIGGER survey_day_insert AFTER INSERT ON survey WHEN NOT NEW.is_test
    BEGIN {_INSERT} VALUES ({_sqlite_row("NEW", "")}); END""",
    f"""CREATE TRIGGER survey_day_delete AFTER DELETE ON survey WHEN NOT OLD.is_test
    BEGIN {_INSERT} VALUES ({_sqlite_row("OLD", "-")}); END""",
    f"""CREATE TRIGGER survey_day_update AFTER UPDATE OF {", ".join(_COUNTED)}, message_id
    ON survey WHEN {_MOVED_SQLITE}
    BEGIN
        {_INSERT} SELECT {_sqlite_row("OLD", "-")} WHERE NOT OLD.is_test;
        {_INSERT} SELECT {_sqlite_row("NEW", "")} WHERE NOT NEW.is_test;
    END""",
]
POSTGRES = [
    f"""CREATE FUNCTION survey_day_count() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            IF NOT OLD.is_test THEN {_INSERT} VALUES ({_postgres_row("OLD", "-")}); END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            IF NOT NEW.is_test THEN {_INSERT} VALUES ({_postgres_row("NEW", "")}); END IF;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER survey_day_insert_delete AFTER INSERT OR DELETE ON survey
    FOR EACH ROW EXECUTE FUNCTION survey_day_count()""",
    f"""CREATE TRIGGER survey_day_update AFTER UPDATE OF {", ".join(_COUNTED)}, message_id
    ON survey FOR EACH ROW WHEN ({_MOVED_POSTGRES}) EXECUTE FUNCTION survey_day_count()""",
]
_DAY = {"sqlite": "substr(created_at, 1, 10)", "postgresql": "(created_at AT TIME ZONE 'UTC')::date"}
TEAM_COLUMNS = [
    "engineer",
    "engineer_group",
    "score",
    "automatic",
    "created_at",
    "is_test",
    "message_id",
]


WORDS = "(reply_text <> '' OR followup_text <> '')"
COMMENT_COLUMNS = ["score", "answered_at", "created_at", "is_test", "automatic"]
COMMENTED = "reply_text IS NOT NULL AND reply_text <> ''"


def _where(condition: str) -> dict[str, sa.TextClause]:
    return {f"{name}_where": sa.text(condition) for name in ("sqlite", "postgresql")}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "survey_day",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("engineer", sa.String(length=300), nullable=True),
        sa.Column("engineer_group", sa.String(length=300), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("surveys", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("folded", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_survey_day_day", "survey_day", ["day"])
    op.create_index("ix_survey_day_unfolded", "survey_day", ["day"], **_where("NOT folded"))
    if dialect == "postgresql":
        # No survey is written between the count below and the triggers taking over.
        op.execute("LOCK TABLE survey IN SHARE ROW EXCLUSIVE MODE")
    for statement in SQLITE if dialect == "sqlite" else POSTGRES:
        op.execute(statement)
    op.execute(
        f"{_INSERT} SELECT {_DAY[dialect]}, engineer, engineer_group, score, automatic, "
        f"count(*), count(message_id), {'1' if dialect == 'sqlite' else 'true'} FROM survey "
        "WHERE NOT is_test GROUP BY 1, 2, 3, 4, 5"
    )
    # The report's tables read the counts now; this index served nothing else.
    op.drop_index("ix_survey_teams", table_name="survey")
    # People's words: the old index's condition (a typed reply) could not serve the query's
    # (a typed reply or a follow-up answer), so it was never read.
    op.drop_index("ix_survey_comments", table_name="survey")
    op.create_index("ix_survey_comments", "survey", ["score", "id"], **_where(WORDS))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    on = " ON survey" if postgres else ""
    for name in ("update", "insert", "delete", "insert_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS survey_day_{name}{on}")
    if postgres:
        op.execute("DROP FUNCTION survey_day_count()")
    op.create_index("ix_survey_teams", "survey", TEAM_COLUMNS)
    op.drop_index("ix_survey_comments", table_name="survey")
    op.create_index("ix_survey_comments", "survey", COMMENT_COLUMNS, **_where(COMMENTED))
    op.drop_index("ix_survey_day_unfolded", table_name="survey_day")
    op.drop_index("ix_survey_day_day", table_name="survey_day")
    op.drop_table("survey_day")
