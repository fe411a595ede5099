"""Typed replies checked with our portal are bounded per person and per minute (issue 23,
point 6): forged replies carrying junk access tokens cost one `profile` request each from the
shared Bitrix24 budget, unthrottled before (invitations took 8 s instead of 0.1 s under five a
second). An OAuth application's events carry the person's token (bitrix24.md §5), so such a
reply is still checked."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from bridge.survey.replies.checks import PER_PERSON
from harness.app import running_app
from harness.payloads import closed_webhook, oauth_reply_body
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import JobKind, SurveyState
from tests.databases import jobs, surveys

pytestmark = pytest.mark.anyio
FORGED = 8


def _profiles(vendors: Vendors) -> int:
    return sum(1 for name, _ in vendors.bitrix.calls if name == "profile")


async def test_forged_replies_with_junk_tokens_cost_at_most_a_few_checks_a_minute(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url), vendors) as app:
        assert (await app.webhook(closed_webhook())).json() == {"result": "accepted"}
        await eventually(lambda: surveys(engine)[0].state == SurveyState.AWAITING)
        for n in range(FORGED):
            junk = {"auth[access_token]": f"junk-token-{n:04d}"}
            forged = oauth_reply_body("1", message_id=900 + n, **junk)
            assert (await app.event(forged)).status_code == 200
        checks = [j for j in jobs(engine) if j.kind == JobKind.VERIFY_REPLY]
        await eventually(lambda: all(j.state != "pending" for j in jobs(engine)))
    assert len(checks) == PER_PERSON
    assert _profiles(vendors) == PER_PERSON
    assert vendors.okdesk.rate_posts == []
