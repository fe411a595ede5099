"""The commands that change surveys: retry what failed, send an invitation again, withdraw a
waiting survey. Each change goes through the workflow, under its state guard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bridge.admin.context import Context, Exit
from bridge.rules import workflow
from bridge.worker.retrying import retry_failed
from storage.db import transaction
from storage.survey import surveys

Builder = Callable[[int, datetime], workflow.Change]


def retry_command(ctx: Context) -> Exit:
    """`retry-failed`: queue failed work again and say what could not be."""
    count, refused = retry_failed(ctx.engine, ctx.settings, ctx.clock())
    for line in refused:
        ctx.say(f"not retried: {line}")
    ctx.say(f"{count} failed job(s) queued again")
    return Exit.OK


def resend(ctx: Context, issue_id: int) -> Exit:
    """Send the ticket's current survey's invitation again (awaiting or undeliverable)."""
    return _act(ctx, issue_id, "resend", lambda survey_id, _now: workflow.resent(survey_id))


def cancel(ctx: Context, issue_id: int) -> Exit:
    """Withdraw the ticket's waiting survey without a rating."""
    return _act(
        ctx, issue_id, "cancel", lambda survey_id, now: workflow.withdrawn(survey_id, now=now)
    )


def _act(ctx: Context, issue_id: int, verb: str, build: Builder) -> Exit:
    """Apply the change `build` makes to the ticket's current survey, or say why not."""
    now = ctx.clock()
    with transaction(ctx.engine) as session:
        survey = surveys.current_survey(session, issue_id=issue_id)
        if survey is None or survey.id is None:
            ctx.say(f"ticket {issue_id} has no current survey: nothing to {verb}")
            return Exit.FAILED
        survey_id, before = survey.id, survey.state
        change = build(survey_id, now)
        applied = surveys.apply_change(session, change, now=now)
    if not applied:
        allowed = ", ".join(sorted(change.from_states))
        ctx.say(
            f"ticket {issue_id}: its survey {survey_id} is {before}; "
            f"{verb} acts only on a survey that is {allowed}"
        )
        return Exit.FAILED
    ctx.say(f"ticket {issue_id}: survey {survey_id} was {before}, now {change.fields['state']}")
    return Exit.OK
