"""The survey export: one CSV row per survey, shared by `python -m bridge.admin export` and
the report page's `/admin/export.csv`.

No e-mail address is ever stored, and any a person typed is masked; what the personal-data
purge erased (the engineer's name, the comment) comes out empty. No cell can start a
spreadsheet formula, in either locale (`bridge.report.export.cell`), in the CLI's CSV as on
the page's (issue 22 point 8, issue 23 point 11). The administrator's test invitations are
left out. Times are UTC, ISO 8601.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.report.export import cell
from bridge.report.words import history, words
from storage.db import reading
from storage.reading.report_words import Change, changes_of
from storage.survey import listing
from storage.tables import Survey
from storage.team import posts
from storage.team.tables import TeamMessage

HEADER = [
    "ticket",
    "state",
    "score",
    "okdesk_rating",
    "automatic",
    "engineer",
    "engineer_group",
    "company_name",
    "created",
    "answered",
    "rating_sent",
    "handled",
    "handled_by",
    "comment",
    "followup",
    "score_changes",
    "taken_in_chat_by",
    "taken_in_chat_at",
]
PAGE = 1000


def rows(engine: Engine, since: datetime | None, until: datetime | None) -> Iterator[list[str]]:
    """The export's rows (without `HEADER`) for surveys created in [since, until), by id.

    Read a page at a time, so a large export neither fills memory nor holds the database.
    """
    after = 0
    while True:
        with reading(engine) as session:
            page = listing.survey_page(
                session, after_id=after, since=since, until=until, limit=PAGE
            )
            ids = [survey.id or 0 for survey in page]
            changes = changes_of(session, ids)
            taken = posts.takers(session, survey_ids=ids)
            found = [
                row(survey, changes.get(survey.id or 0, []), taken.get(survey.id or 0))
                for survey in page
            ]
            after = max((survey.id or 0 for survey in page), default=after)
        yield from found
        if len(found) < PAGE:
            return


def row(
    survey: Survey, changes: Sequence[Change] = (), alert: TeamMessage | None = None
) -> list[str]:
    """One survey as a row of `HEADER`'s columns, safe to open in a spreadsheet: the typed
    reply only when it carried words, the follow-up answer, the changes of mind, who took its
    alert in the team's chat («Беру») and when."""
    values = [
        str(survey.issue_id),
        str(survey.state),
        _text(survey.score),
        survey.okdesk_rate or "",
        "yes" if survey.automatic else "no",
        survey.engineer or "",
        survey.engineer_group or "",
        survey.company_name or "",
        _when(survey.created_at),
        _when(survey.answered_at),
        _when(survey.rating_sent_at),
        _when(survey.handled_at),
        survey.handled_by or "",
        words(survey.reply_text) or "",
        survey.followup_text or "",
        history(changes),
        (alert.taken_by or "") if alert else "",
        _when(alert.taken_at) if alert else "",
    ]
    return [cell(value) for value in values]


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def _when(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")
