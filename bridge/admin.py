"""Administrator commands: `python -m bridge.admin status | retry-failed`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.settings import Settings, settings_or_exit
from storage import queries
from storage.db import create_db_engine, transaction
from storage.migrate import upgrade
from storage.tables import JobKind, SurveyState, utcnow


def status(engine: Engine) -> str:
    """Surveys and jobs by state, and the reasons of failed surveys."""
    with transaction(engine) as session:
        surveys = queries.count_surveys_by_state(session)
        jobs = queries.count_jobs_by_state(session)
        failed = queries.failed_surveys(session, limit=50)
    lines = ["surveys: " + (", ".join(f"{k} {v}" for k, v in sorted(surveys.items())) or "none")]
    lines.append("jobs: " + (", ".join(f"{k} {v}" for k, v in sorted(jobs.items())) or "none"))
    for survey in failed:
        lines.append(f"  failed: survey {survey.id}, ticket {survey.issue_id}: {survey.reason}")
    return "\n".join(lines)


def retry_failed(engine: Engine, settings: Settings, now: datetime) -> int:
    """Queue every failed job again with a fresh retry budget; returns how many."""
    with transaction(engine) as session:
        failed = queries.failed_jobs(session)
        for job in failed:
            assert job.id is not None
            queries.revive_job(session, job.id, now)
            if job.survey_id is None:
                continue
            survey = queries.get_survey(session, job.survey_id)
            if survey is None or survey.state != SurveyState.FAILED:
                continue
            values: dict[str, object] = {"reason": None, "finished_at": None, "updated_at": now}
            if job.kind == JobKind.INVITE:
                values["state"] = SurveyState.INVITING
                if settings.default_rating is not None:
                    values["deadline_at"] = now + settings.rating_timeout
            else:
                values["state"] = SurveyState.DEFAULTED if survey.automatic else SurveyState.RATED
            queries.move_survey(
                session, job.survey_id, from_states=[SurveyState.FAILED], values=values
            )
        return len(failed)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m bridge.admin", description=__doc__)
    parser.add_argument("command", choices=["status", "retry-failed"])
    args = parser.parse_args(argv)
    settings = settings_or_exit()
    upgrade(settings.database_url)
    engine = create_db_engine(settings.database_url, pool_size=1)
    try:
        if args.command == "status":
            sys.stdout.write(status(engine) + "\n")
        else:
            count = retry_failed(engine, settings, utcnow())
            sys.stdout.write(f"{count} failed job(s) queued again\n")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
