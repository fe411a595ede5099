"""`send-test EMAIL`: a test invitation to the Bitrix24 user with that e-mail.

The user is looked up here, so an unknown e-mail is said at once; only the user's id is
stored, as for any survey, never the e-mail. The survey is marked `is_test` and belongs to no
ticket: `issue_id` 0 (Okdesk numbers tickets from 1, and `show 0` lists the tests) and no
`current_issue_id`, so it never stands in the way of a real closure. The worker sends it
without reading Okdesk; its answer is thanked and never written to Okdesk (`bridge.survey.jobs`);
reports and the export leave it out.
"""

from __future__ import annotations

from bot.client import BitrixClient
from bot.texts import messages
from bridge.admin.context import Context, Exit
from outbound.errors import DeliveryError
from storage import queue
from storage.db import transaction
from storage.survey import surveys
from storage.tables import JobKind, Survey, SurveyState

TEST_ISSUE_ID = 0


async def send_test(ctx: Context, email: str) -> Exit:
    """Queue a test invitation to the one active user with `email`; FAILED when none is."""
    async with ctx.http() as http:
        settings = ctx.settings
        bitrix = BitrixClient(
            http, settings.bitrix_webhook_url, settings.bitrix_client_id.get_secret_value()
        )
        try:
            users = await bitrix.find_users_by_email(email.strip())
        except DeliveryError as exc:
            ctx.say(f"Bitrix24 could not look the user up: {exc}")
            return Exit.FAILED
    if len(users) != 1:
        many = (
            f"{len(users)} active Bitrix24 users have" if users else "no active Bitrix24 user has"
        )
        ctx.say(f"{many} that e-mail address: no test invitation sent")
        return Exit.FAILED
    survey_id = _queue_test(ctx, users[0].id)
    text = messages.as_seen(messages.text("test_invitation", ctx.settings.language))
    ctx.say(f"test invitation queued as survey {survey_id} for Bitrix24 user {users[0].id}:")
    ctx.say("\n".join(f"  {line}" for line in text.splitlines()))
    ctx.say("the worker sends it; a click is thanked and nothing is written to Okdesk")
    return Exit.OK


def _queue_test(ctx: Context, user_id: int) -> int:
    now = ctx.clock()
    settings = ctx.settings
    deadline = now + settings.rating_timeout if settings.default_rating is not None else None
    survey = Survey(
        token=surveys.new_survey_token(),
        issue_id=TEST_ISSUE_ID,
        state=SurveyState.INVITING,
        language=settings.language,
        is_test=True,
        bitrix_user_id=user_id,
        created_at=now,
        updated_at=now,
        deadline_at=deadline,
    )
    with transaction(ctx.engine) as session:
        survey_id = surveys.open_survey(session, survey=survey)
        assert survey_id is not None
        queue.enqueue(session, kind=JobKind.INVITE, now=now, survey_id=survey_id)
    return survey_id
