"""The commands that only read: status, list, show and export."""

from __future__ import annotations

import csv
from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.admin.context import Context, Exit
from bridge.report import survey_csv
from storage import queue
from storage.db import transaction
from storage.survey import changes, listing, surveys
from storage.tables import Survey, SurveyState
from storage.team import posts

# What `show` prints of a survey: every field that names no person (no user ids, no texts of
# theirs, no contact). The comment is the person's own words about the ticket: shown, as in
# the export, until the purge erases it.
SHOWN_FIELDS = (
    "id",
    "state",
    "is_test",
    "reason",
    "language",
    "engineer",
    "engineer_group",
    "company_name",
    "type_code",
    "priority_code",
    "score",
    "automatic",
    "okdesk_rate",
    "reply_text",
    "followup_text",
    "followup_at",
    "handled_at",
    "handled_by",
    "created_at",
    "updated_at",
    "deadline_at",
    "answered_at",
    "rating_sent_at",
    "finished_at",
    "personal_data_purged",
)


def status(engine: Engine) -> str:
    """Surveys and jobs by state, and the reasons of failed surveys."""
    with transaction(engine) as session:
        by_state = surveys.count_surveys_by_state(session)
        jobs = queue.count_jobs_by_state(session)
        failed = surveys.failed_surveys(session, limit=50)
    lines = ["surveys: " + (", ".join(f"{k} {v}" for k, v in sorted(by_state.items())) or "none")]
    lines.append("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(jobs.items())) or "none"))
    for survey in failed:
        lines.append(f"  failed: survey {survey.id}, ticket {survey.issue_id}: {survey.reason}")
    return "\n".join(lines)


def list_surveys(ctx: Context, state: SurveyState | None, limit: int) -> Exit:
    """The latest surveys, newest first: ticket, state, score, automatic, updated."""
    with transaction(ctx.engine) as session:
        found = listing.latest_surveys(session, state=state, limit=limit)
        lines = [_list_line(survey) for survey in found]
    if not lines:
        ctx.say("no surveys" + (f" in state {state}" if state else ""))
        return Exit.FAILED
    ctx.say(f"{'ticket':>10}  {'state':<13}  score  automatic  updated")
    for line in lines:
        ctx.say(line)
    return Exit.OK


def _list_line(survey: Survey) -> str:
    score = "-" if survey.score is None else str(survey.score)
    ticket = "test" if survey.is_test else str(survey.issue_id)
    automatic = "yes" if survey.automatic else "no"
    updated = _when(survey.updated_at)
    return f"{ticket:>10}  {survey.state!s:<13}  {score:>5}  {automatic:<9}  {updated}"


def show_ticket(ctx: Context, issue_id: int) -> Exit:
    """Every survey of the ticket with its non-personal fields, and its jobs."""
    with transaction(ctx.engine) as session:
        lines: list[str] = []
        for survey in listing.ticket_surveys(session, issue_id=issue_id):
            assert survey.id is not None
            current = " (current)" if survey.current_issue_id == issue_id else ""
            lines.append(f"survey {survey.id} of ticket {issue_id}{current}")
            lines += [f"  {name}: {_value(getattr(survey, name))}" for name in SHOWN_FIELDS]
            lines += [
                f"  score changed: {c.from_score} -> {c.to_score} at {_when(c.changed_at)}"
                for c in changes.history(session, survey_id=survey.id)
            ]
            alert = posts.alert_of(session, survey_id=survey.id)
            if alert is not None and alert.taken_at is not None:
                lines.append(f"  taken in the chat by: {alert.taken_by} at {_when(alert.taken_at)}")
            for job in listing.survey_jobs(session, survey_id=survey.id):
                error = f", last error: {job.last_error}" if job.last_error else ""
                lines.append(
                    f"  job {job.id}: {job.kind}, {job.state}, {job.attempts} attempt(s){error}"
                )
    if not lines:
        ctx.say(f"ticket {issue_id} has no survey")
        return Exit.FAILED
    for line in lines:
        ctx.say(line)
    return Exit.OK


def export_csv(ctx: Context, since: datetime | None, until: datetime | None) -> Exit:
    """Every real survey created in [since, until) as CSV (`bridge.report.survey_csv`)."""
    writer = csv.writer(ctx.out, lineterminator="\n")
    writer.writerow(survey_csv.HEADER)
    for row in survey_csv.rows(ctx.engine, since, until):
        writer.writerow(row)
    return Exit.OK


def _value(value: object) -> str:
    if value is None:
        return "-"
    return _when(value) if isinstance(value, datetime) else str(value)


def _when(value: datetime) -> str:
    return value.isoformat(timespec="seconds")
