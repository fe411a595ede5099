"""Retrying what failed: every failed job queued again with a fresh retry budget, its survey
moved back through the workflow. The operator asks for it from the command line
(`python -m bridge.admin retry`) or the report page's button."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from bridge.rules import workflow
from storage import queue
from storage.db import transaction
from storage.survey import surveys
from storage.tables import Job, JobKind, Survey


def retry_failed(engine: Engine, settings: Settings, now: datetime) -> tuple[int, list[str]]:
    """Queue every failed job again with a fresh retry budget.

    Returns how many were queued, and a line for each that cannot be retried because the
    personal-data purge erased what it needs.
    """
    refused: list[str] = []
    queued = 0
    deadline = now + settings.rating_timeout if settings.default_rating is not None else None
    with transaction(engine) as session:
        for job in queue.failed_jobs(session):
            assert job.id is not None
            survey = (
                None
                if job.survey_id is None
                else surveys.get_survey(session, survey_id=job.survey_id)
            )
            why_not = _cannot_retry(job, survey)
            if why_not:
                refused.append(f"job {job.id}: {why_not}")
                continue
            queue.revive_job(session, job_id=job.id, now=now)
            queued += 1
            change = (
                None
                if survey is None
                else workflow.retried(
                    survey, invitation=job.kind == JobKind.INVITE, deadline=deadline
                )
            )
            if change is not None:
                surveys.apply_change(session, change, now=now)
    return queued, refused


def _cannot_retry(job: Job, survey: Survey | None) -> str | None:
    if survey is not None and survey.personal_data_purged:
        return f"ticket {survey.issue_id}: its personal data was purged, so it cannot be retried"
    if job.kind == JobKind.REPLY and job.payload.strip() in ("", "{}"):
        return "the reply's chat and text were purged, so it cannot be sent"
    return None
