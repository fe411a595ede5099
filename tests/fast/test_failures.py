"""Vendor failures: a transient one is retried after its backoff, a refused one fails the
survey with the vendor's reason, and the administrator's `retry_failed` revives it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.worker.retrying import retry_failed
from outbound.errors import RejectedError, TransientError
from storage.tables import JobKind, JobState, SurveyState
from tests.fast.harness import ISSUE_ID, Service, closed_ticket

pytestmark = pytest.mark.anyio

# The first retry comes within RETRY_BASE (2 s), the n-th within min(RETRY_CAP, 2 s·2ⁿ⁻¹).
BASE = timedelta(seconds=2)
CAP = timedelta(seconds=60)


def _invite_job(service: Service) -> tuple[JobState, int]:
    (job,) = [j for j in service.jobs() if j.kind == JobKind.INVITE]
    return job.state, job.attempts


async def test_a_transient_failure_is_retried_after_the_backoff(service: Service) -> None:
    service.messenger.fail("send", TransientError("Bitrix24: HTTP 503"))
    service.close()
    done = await service.drain()
    assert done["invite retried"] == 1
    assert service.messenger.chat == {}
    assert service.survey().state == SurveyState.INVITING
    await service.later(BASE)
    assert _invite_job(service) == (JobState.DONE, 2)
    assert service.survey().state == SurveyState.AWAITING
    assert len(service.chat()) == 1


async def test_retry_after_is_waited_out(service: Service) -> None:
    service.messenger.fail("send", TransientError("Bitrix24: HTTP 429", retry_after=30))
    service.close()
    await service.drain()
    await service.later(timedelta(seconds=29))
    assert service.messenger.chat == {}
    await service.later(timedelta(seconds=1))
    assert len(service.chat()) == 1


async def test_busy_three_times_then_delivered_once(service: Service) -> None:
    service.messenger.fail("send", *[TransientError("Bitrix24: HTTP 503")] * 3)
    service.close()
    await service.drain()
    for _ in range(3):
        await service.later(CAP)
    assert _invite_job(service) == (JobState.DONE, 4)
    assert len(service.chat()) == 1


async def test_a_helpdesk_outage_is_retried(service: Service) -> None:
    service.helpdesk.fail("contact_email", TransientError("Okdesk: HTTP 502"))
    service.close()
    await service.drain()
    assert service.survey().state == SurveyState.INVITING
    await service.later(BASE)
    assert service.survey().state == SurveyState.AWAITING


async def test_a_rejected_invitation_fails_then_retry_failed_revives_it(service: Service) -> None:
    refusal = RejectedError("Bitrix24 imbot.message.add: ACCESS_DENIED", code="ACCESS_DENIED")
    service.messenger.fail("send", refusal)
    service.close()
    await service.drain()
    failed = service.survey()
    assert failed.state == SurveyState.FAILED and "ACCESS_DENIED" in (failed.reason or "")
    assert _invite_job(service) == (JobState.FAILED, 1)
    assert retry_failed(service.engine, service.settings, service.clock.now()) == (1, [])
    await service.drain()
    revived = service.survey()
    assert (revived.state, revived.reason) == (SurveyState.AWAITING, None)
    assert revived.deadline_at is not None
    assert len(service.chat()) == 1


async def test_failing_past_the_give_up_time_fails_the_survey(service: Service) -> None:
    service.configure(retry_give_up_after="5m")
    service.messenger.fail("send", *[TransientError("Bitrix24: HTTP 503")] * 100)
    service.close()
    await service.drain()
    for _ in range(6):
        await service.later(CAP)
    survey = service.survey()
    assert survey.state == SurveyState.FAILED
    assert "gave up after" in (survey.reason or "")


async def test_a_refused_rating_fails_then_retry_failed_rates(service: Service) -> None:
    service.helpdesk.fail("rate_issue", RejectedError("Okdesk rating: HTTP 422"))
    service.close()
    await service.drain()
    service.click(4)
    await service.drain()
    failed = service.survey()
    assert (failed.state, failed.score) == (SurveyState.FAILED, 4)
    assert "Okdesk rating: HTTP 422" in (failed.reason or "")
    assert retry_failed(service.engine, service.settings, service.clock.now()) == (1, [])
    await service.drain()
    assert service.survey().state == SurveyState.RATED
    assert service.rated() == ["good"]


async def test_one_failed_lookup_in_a_batch_retries_only_that_invitation(
    service: Service,
) -> None:
    for issue_id in (9100, 9101):
        service.helpdesk.tickets[issue_id] = closed_ticket(issue_id)
    service.helpdesk.fail("contact_email", TransientError("Okdesk: HTTP 503"))
    for issue_id in (ISSUE_ID, 9100, 9101):
        service.close(issue_id)
    await service.drain()
    assert [s.state for s in service.surveys()].count(SurveyState.AWAITING) == 2
    await service.later(BASE)
    assert {s.state for s in service.surveys()} == {SurveyState.AWAITING}
    assert len(service.chat()) == 3
