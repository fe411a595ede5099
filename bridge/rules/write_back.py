"""What a survey records once its rating's write to Okdesk is settled: Okdesk shows the rating,
or it will not be written. Neither moves the survey's state (`bridge.rules.workflow` draws those);
both finish it. `bridge.survey.jobs` applies them after reading the ticket back."""

from __future__ import annotations

from datetime import datetime

from bridge.rules.workflow import ANY, Change
from storage.survey.fields import SurveyFields
from storage.tables import JobKind


def rating_written(
    survey_id: int, *, shown: str | None, note: str | None, now: datetime, comment: bool = False
) -> Change:
    """Okdesk shows the ticket's rating: the survey is finished (an automatic one, with
    AUTO_RATING_COMMENT, then gets its private comment saying so: issue 10)."""
    fields: SurveyFields = {
        "okdesk_rate": shown,
        "rating_sent_at": now,
        "finished_at": now,
        "reason": note,
    }
    return Change(survey_id, None, ANY, fields, (JobKind.AUTO_COMMENT,) if comment else ())


def rating_not_written(survey_id: int, *, note: str, now: datetime) -> Change:
    """The rating will not be written (the ticket was reopened since): finished all the same."""
    return Change(survey_id, None, ANY, {"finished_at": now, "reason": note})
