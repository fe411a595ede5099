"""The schema the migrations build is the schema the code expects, on both databases."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

import storage.tables  # noqa: F401  (registers the tables)
from harness.constants import POSTGRES_URL
from storage.db import transaction
from storage.migrate import alembic_config
from storage.survey import surveys
from storage.tables import Survey, SurveyState


def test_migrations_match_the_tables(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_each_run_of_the_suite_has_a_database_of_its_own(database_url: str) -> None:
    # Two runs on one machine must never truncate each other's tables: PostgreSQL tests use a
    # database made (and dropped) by this run, named after its process.
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        assert url.database != make_url(POSTGRES_URL).database
        assert url.database is not None and f"_{os.getpid()}_" in url.database


def test_each_migration_is_announced_in_one_line() -> None:
    """Alembic logs a migration's first docstring paragraph; the log escapes a line break as a
    literal `\\n` (the sandbox's log showed it)."""
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    docs = [script.doc for script in scripts.walk_revisions()]
    assert len(docs) >= 8
    assert [doc for doc in docs if "\n" in doc or not doc.strip()] == []


def test_rates_written_are_each_tickets_latest_from_our_surveys(engine: Engine) -> None:
    when = datetime(2026, 12, 6, tzinfo=UTC)
    rows = [(7, "bad"), (7, "good"), (8, None), (9, "normal")]
    with transaction(engine) as session:
        for issue_id, rate in rows:
            survey = Survey(
                token=surveys.new_survey_token(),
                issue_id=issue_id,
                state=SurveyState.RATED,
                okdesk_rate=rate,
                language="ru",
                created_at=when,
                updated_at=when,
            )
            surveys.open_survey(session, survey=survey)
        written = surveys.rates_written(session, issue_ids=[7, 8, 10])
    assert written == {7: "good"}
