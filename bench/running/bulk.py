"""A million surveys in a few statements: each survey's fields are a function of its number
(a multiplicative hash, the same on SQLite and PostgreSQL), written by one INSERT … SELECT
over a generated series rather than row by row from Python.

The mix is `bench.report_page`'s: of eleven surveys six are rated by people, two got the
default rating, one waits, one was undeliverable and one failed; all were opened in the last
29 days. Every survey has its invitation job done, every rated one its rating job; one survey
in a hundred has a job still pending.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine

ENGINEERS, GROUPS, SECONDS = 40, 8, 29 * 86_400


def _h(salt: int) -> str:
    """A pseudo-random number below 2^32 of the survey number `i`: each salt multiplies by
    another number modulo a prime, so the fields drawn with different salts look unrelated."""
    return f"((i * {2654435761 + salt * 7_919_993}) % 4294967291)"


_FIELDS = f"""
    i,
    CASE WHEN {_h(1)} % 11 < 6 THEN 'rated' WHEN {_h(1)} % 11 < 8 THEN 'defaulted'
         WHEN {_h(1)} % 11 = 8 THEN 'awaiting' WHEN {_h(1)} % 11 = 9 THEN 'undeliverable'
         ELSE 'failed' END AS state,
    substr('12344555', CAST(1 + {_h(2)} % 8 AS INTEGER), 1) AS score,
    'Инженер ' || ({_h(3)} % {ENGINEERS}) AS engineer,
    'Группа ' || ({_h(4)} % {GROUPS}) AS engineer_group,
    {_h(5)} % {SECONDS} AS age,
    {_h(6)} % 100 AS words
"""

_SURVEY_COLUMNS = (
    "token, issue_id, current_issue_id, state, language, engineer, engineer_group, "
    "company_name, bitrix_user_id, message_id, score, automatic, reply_text, followup_text, "
    "reason, is_test, personal_data_purged, created_at, updated_at, answered_at, finished_at, "
    "deadline_at, followup_answers, changing, changes_made"
)


def _survey_values(at: Callable[[str], str]) -> str:
    """The survey columns from the generated fields; `at(expr)` is `now` minus expr seconds."""
    rated = "state IN ('rated', 'defaulted')"
    delivered = "state NOT IN ('undeliverable', 'failed')"
    return f"""
    'b' || i, i, i, state, 'ru', engineer, engineer_group, 'ООО Компания ' || (i % 300),
    1000 + i % 5000, CASE WHEN {delivered} THEN i END,
    CASE WHEN {rated} THEN CAST(score AS INTEGER) END, state = 'defaulted',
    CASE WHEN {rated} AND words < 10 THEN 'Комментарий' WHEN {rated} AND words < 20 THEN '5' END,
    CASE WHEN state = 'rated' AND words >= 95 THEN 'Что пошло не так' END,
    CASE WHEN state = 'failed' THEN 'Okdesk answered 500' END, false, false,
    {at("age")}, {at("age")}, CASE WHEN {rated} THEN {at("age - 3600")} END,
    CASE WHEN {rated} THEN {at("age - 3600")} END,
    CASE WHEN state = 'awaiting' THEN {at("age - 86400")} END, 0, false, 0
    """


_JOB_COLUMNS = "kind, survey_id, payload, state, available_at, attempts, created_at, finished_at"


def _sqlite_at(now: datetime) -> Callable[[str], str]:
    base = now.replace(tzinfo=None).isoformat(sep=" ")

    def at(seconds: str) -> str:
        return f"strftime('%Y-%m-%d %H:%M:%f', '{base}', -({seconds}) || ' seconds') || '000'"

    return at


def _postgres_at(now: datetime) -> Callable[[str], str]:
    def at(seconds: str) -> str:
        return f"(TIMESTAMPTZ '{now.isoformat()}' - make_interval(secs => {seconds}))"

    return at


def fill(engine: Engine, count: int, now: datetime) -> None:
    """Write `count` surveys (numbered 1 … count) and their jobs, in one transaction."""
    sqlite = engine.dialect.name == "sqlite"
    at = (_sqlite_at if sqlite else _postgres_at)(now)
    series = (
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count}) "
        if sqlite
        else ""
    )
    source = "n" if sqlite else f"generate_series(1, {count}) AS n(i)"
    fields = f"(SELECT {_FIELDS} FROM {source}) AS f"
    jobs = f"""{series}
        INSERT INTO job ({_JOB_COLUMNS})
        SELECT kind, s.id, '{{}}', CASE WHEN pending THEN 'pending' ELSE 'done' END,
               s.created_at, 1, s.created_at, CASE WHEN NOT pending THEN s.created_at END
        FROM (SELECT i, 'invite' AS kind, false AS pending FROM n
              UNION ALL SELECT i, 'send_rating', i % 100 = 0 FROM n) AS j
        JOIN survey AS s ON s.issue_id = j.i
        WHERE j.kind = 'invite' OR s.state IN ('rated', 'defaulted') OR j.pending"""
    if not sqlite:
        jobs = jobs.replace(" FROM n", f" FROM {source}")
    with engine.begin() as connection:
        if sqlite:  # the indexes of a million rows fit in memory: no page read twice
            connection.exec_driver_sql("PRAGMA cache_size = -2000000")
        connection.execute(
            text(
                f"{series}INSERT INTO survey ({_SURVEY_COLUMNS}) "
                f"SELECT {_survey_values(at)} FROM {fields}"
            )
        )
        connection.execute(text(jobs))
