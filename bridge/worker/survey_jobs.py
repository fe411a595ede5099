"""The jobs issue 10 adds: the reminder, a reminder's buttons taken back, the automatic
rating's comment. `bridge.worker.running` hands them here; the rest go to `bridge.survey.jobs`."""

from __future__ import annotations

import logging

from bridge.config.settings import Settings
from bridge.outside.vendors import Vendors
from bridge.survey import reminders
from bridge.survey.auto_comment import post_auto_comment
from bridge.survey.jobs import Effect, nothing
from outbound.errors import RejectedError
from storage.tables import Job, JobKind, Survey

log = logging.getLogger(__name__)

KINDS = frozenset({JobKind.REMIND, JobKind.CLOSE_REMINDER, JobKind.AUTO_COMMENT})


async def run(job: Job, survey: Survey | None, vendors: Vendors, settings: Settings) -> Effect:
    """Do one of these jobs' vendor calls and say what to record."""
    if survey is None:
        log.warning("job.orphaned job_id=%s kind=%s", job.id, job.kind)
        return nothing
    if job.kind == JobKind.REMIND:
        return await reminders.remind(survey, vendors, settings)
    if job.kind == JobKind.CLOSE_REMINDER:
        await reminders.close_reminder(job, survey, vendors)
        return nothing
    if job.kind == JobKind.AUTO_COMMENT:
        await post_auto_comment(survey, vendors, settings)
        return nothing
    raise RejectedError(f"unknown job kind {job.kind!r}")
