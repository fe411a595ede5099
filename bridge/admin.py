"""Administrator commands: `python -m bridge.admin status | retry-failed`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy.engine import Engine

from bridge import workflow
from bridge.settings import Settings, settings_or_exit
from storage import queue, surveys
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade_or_exit
from storage.tables import Job, JobKind, Survey, utcnow


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


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bridge.admin", description=__doc__)
    parser.add_argument("command", choices=["status", "retry-failed"])
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    upgrade_or_exit(settings.database_url)
    engine = create_db_engine(settings.database_url, pool_size=1)
    try:
        if args.command == "status":
            sys.stdout.write(status(engine) + "\n")
        else:
            count, refused = retry_failed(engine, settings, utcnow())
            for line in refused:
                sys.stdout.write(f"not retried: {line}\n")
            sys.stdout.write(f"{count} failed job(s) queued again\n")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
