"""Reads what the page shows in one transaction: the queries of `storage.report`, turned
into figures by `bridge.report.figures`."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bridge.report import figures, words
from bridge.report.page import Report
from bridge.report.period import Period
from storage import attention, report_words
from storage import report as queries
from storage.db import reading

COMMENTS, TROUBLES, CHANGES, ATTENTION = 20, 20, 20, 50


def read_report(engine: Engine, period: Period, *, max_score: int = 2) -> Report:
    """The page's figures for `period` (the machine's side is as of now, any period), and
    its ratings at or below `max_score` no one has handled."""
    start, end = period.start, period.end
    with reading(engine) as session:
        cells = queries.cells(session, start=start, end=end)
        weeks = queries.weeks(session, start=start, end=end)
        comments = words.comments(session, start=start, end=end, limit=COMMENTS)
        changes = report_words.latest_changes(session, start=start, end=end, limit=CHANGES)
        machine = queries.machine_counts(session)
        troubles = queries.troubles(session, limit=TROUBLES)
        retryable = queries.retryable(session)
        unhandled = attention.unhandled(
            session, start=start, end=end, max_score=max_score, limit=ATTENTION
        )
    return Report(
        period,
        figures.overview(queries.totals(cells)),
        figures.weeks(weeks, period.first, period.last),
        figures.table(queries.teams(cells, by="engineer")),
        figures.table(queries.teams(cells, by="group")),
        comments,
        changes,
        machine,
        troubles,
        retryable,
        unhandled,
    )
