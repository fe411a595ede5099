"""The indexes the hot reads rely on are the ones the database picks: on SQLite /metrics counts
pending jobs from their partial index alone, with or without the planner's statistics (after
ANALYZE it used to scan every job ever kept), and the sweeps read indexes of due rows only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Executable
from sqlmodel import col

from storage import portals, queue
from storage.db import reading, transaction
from storage.reading import report
from storage.survey import surveys
from storage.survey.surveys import new_survey
from storage.tables import Job, JobKind, JobState, Survey, SurveyState

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def _jobs(engine: Engine, *, done: int, pending: dict[JobKind, int]) -> None:
    rows = [
        {
            "kind": JobKind.INVITE,
            "payload": "{}",
            "state": JobState.DONE,
            "available_at": NOW,
            "created_at": NOW,
            "finished_at": NOW,
        }
        for _ in range(done)
    ]
    rows += [
        {
            "kind": kind,
            "payload": "{}",
            "state": JobState.PENDING,
            "available_at": NOW,
            "created_at": NOW,
        }
        for kind, count in pending.items()
        for _ in range(count)
    ]
    with transaction(engine) as session:
        session.execute(insert(Job), rows)


def _plan(connection: Connection, statement: Executable) -> str:
    """The plan of the statement as it runs, its values bound (SQLite uses a partial index
    only for a condition written in the statement): SQLite's; PostgreSQL's with sequential
    scans off (it may read a small table whole), which shows which indexes the query can use."""
    explain = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")

    def explained(*args: Any) -> tuple[str, Any]:
        return explain + args[2], args[3]

    event.listen(connection, "before_cursor_execute", explained, retval=True)
    try:
        rows = connection.execute(statement).cursor.fetchall()
    finally:
        event.remove(connection, "before_cursor_execute", explained)
    return " ".join(str(row[-1]) for row in rows)


def _analyze(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
        connection.commit()


def test_pending_jobs_are_counted_from_their_partial_index_with_or_without_statistics(
    engine: Engine,
) -> None:
    _jobs(engine, done=3000, pending={JobKind.REMIND: 7, JobKind.SEND_RATING: 2})
    statement = queue.PENDING_BY_KIND
    for analyzed in (False, True):
        if analyzed:
            _analyze(engine)
        with engine.connect() as connection:
            plan = _plan(connection, statement)
            connection.rollback()
        if engine.dialect.name == "sqlite":  # PostgreSQL chooses by its own costs
            assert "COVERING INDEX ix_job_pending" in plan, plan
        with reading(engine) as session:
            assert queue.pending_by_kind(session) == {JobKind.REMIND: 7, JobKind.SEND_RATING: 2}


def _waiting(n: int, deadline_at: datetime | None = None) -> Survey:
    return Survey(
        token=f"w{n}",
        issue_id=n,
        state=SurveyState.AWAITING,
        language="ru",
        created_at=NOW,
        updated_at=NOW,
        deadline_at=deadline_at,
    )


def test_the_timeout_sweep_reads_only_surveys_that_wait(engine: Engine) -> None:
    with transaction(engine) as session:
        session.add_all([_waiting(n) for n in range(1, 200)])
        session.add(_waiting(500, deadline_at=NOW - timedelta(minutes=1)))
        session.add(_waiting(501, deadline_at=NOW + timedelta(hours=1)))
    _analyze(engine)
    with transaction(engine) as session:
        due = surveys.due_for_timeout(session, now=NOW, limit=10)
        assert [s.issue_id for s in due] == [500]
    with engine.connect() as connection:
        sweep = surveys.due_statement(Survey.deadline_at, now=NOW, limit=10)
        assert "ix_survey_deadline_at" in _plan(connection, sweep)
        connection.rollback()


def test_the_report_filtered_by_a_company_reads_only_that_companys_surveys(engine: Engine) -> None:
    companies = [f"ООО Компания {n % 50}" for n in range(1, 400)]
    with transaction(engine) as session:
        for n, company in enumerate(companies, start=1):
            survey = _waiting(n)
            survey.company_name = company
            session.add(survey)
    _analyze(engine)
    where = report.matching(company="ООО Компания 7")
    statement = (
        select(func.count())
        .select_from(Survey)
        .where(
            col(Survey.created_at) >= NOW - timedelta(days=30),
            col(Survey.created_at) <= NOW,
            *where,
        )
    )
    with engine.connect() as connection:
        assert "ix_survey_company" in _plan(connection, statement)
        connection.rollback()
    with reading(engine) as session:
        counted = report.cells(
            session, start=NOW - timedelta(days=1), end=NOW + timedelta(1), where=where
        )
    assert sum(cell.count for cell in counted) == companies.count("ООО Компания 7")


def test_surveys_waiting_are_found_by_portal_from_their_partial_index(engine: Engine) -> None:
    """A portal's waiting surveys (cancelled when it is removed) are found from
    `ix_survey_awaiting`, with or without statistics; /metrics reads their number, kept by
    triggers (`test_survey_waiting`). A test invitation's survey, opened with its person known,
    counts in that portal."""
    span = 1 << 40
    rows = [
        new_survey(
            token=f"p{n}",
            issue_id=n,
            state=SurveyState.AWAITING if n % 3 else SurveyState.RATED,
            language="ru",
            bitrix_user_id=(n % 2) * span + 27,
            portal=n % 2,
            created_at=NOW,
            updated_at=NOW,
        )
        for n in range(1, 301)
    ]
    test_invitation = new_survey(
        token="t1",
        issue_id=1_000,
        state=SurveyState.AWAITING,
        language="ru",
        is_test=True,
        bitrix_user_id=span + 27,
        created_at=NOW,
        updated_at=NOW,
    )
    with transaction(engine) as session:
        surveys.open_surveys(session, [*rows, test_invitation])
    for analyzed in (False, True):
        if analyzed:
            _analyze(engine)
        with engine.connect() as connection:
            plan = _plan(connection, portals.waiting_in(1))
            connection.rollback()
        assert "ix_survey_awaiting" in plan, plan
        with reading(engine) as session:
            assert portals.waiting_per_portal(session, numbers=[0, 1, 2]) == {0: 100, 1: 101, 2: 0}
