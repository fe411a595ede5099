"""Reads what the page shows in one transaction: the queries of `storage.reading.report`, turned
into figures by `bridge.report.figures`.

The totals, the tables and the trend come from the per-day counts (`storage.reading.daily`)
unless a company, type, priority or portal is chosen: the counts are kept by engineer and
group only, so those filters read the surveys themselves."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bridge.report import figures, unused, words
from bridge.report.filters import Filters
from bridge.report.html.page import Report
from bridge.report.period import Period
from storage import portals
from storage.db import reading
from storage.reading import attention, daily, report_words
from storage.reading import report as queries

COMMENTS, TROUBLES, CHANGES, ATTENTION = 20, 20, 20, 50


def _counts(
    session: Session, period: Period, kept: Filters
) -> tuple[list[queries.Cell], list[queries.Cell], list[queries.Day]]:
    """The period's cells, the previous period's, and the days (or weeks) of the trend."""
    start, end, before = period.start, period.end, period.previous()
    if kept.counted_by_day():
        team = {"engineer": kept.engineer, "group": kept.group}
        return (
            daily.cells(session, start=start, end=end, **team),
            daily.cells(session, start=before.start, end=before.end, **team),
            daily.days(session, start=start, end=end, **team),
        )
    where = kept.conditions()
    return (
        queries.cells(session, start=start, end=end, where=where),
        queries.cells(session, start=before.start, end=before.end, where=where),
        queries.weeks(session, start=start, end=end, where=where),
    )


def read_report(
    engine: Engine, period: Period, *, filters: Filters | None = None, max_score: int = 2
) -> Report:
    """The page's figures for `period` and `filters` beside the previous period's (the
    machine's side is as of now, any period), and its ratings at or below `max_score` no one
    has handled."""
    kept = filters or Filters()
    where = kept.conditions()
    start, end = period.start, period.end
    with reading(engine) as session:
        cells, earlier, weeks = _counts(session, period, kept)
        comments = words.comments(session, start=start, end=end, where=where, limit=COMMENTS)
        changes = report_words.latest_changes(
            session, start=start, end=end, where=where, limit=CHANGES
        )
        machine = queries.machine_counts(session)
        troubles = queries.troubles(session, limit=TROUBLES)
        retryable = queries.retryable(session)
        unhandled = attention.unhandled(
            session, start=start, end=end, max_score=max_score, where=where, limit=ATTENTION
        )
        unused_texts = unused.read(session, start=start, end=end)
        names = [portal.name for portal in portals.all_portals(session)]
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
        figures.overview(queries.totals(earlier)),
        kept,
        unused_texts,
        names,
    )
