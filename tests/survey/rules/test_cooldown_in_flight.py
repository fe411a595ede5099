"""The cooldown (issue 22, points 4 and 6): it holds while an invitation is in flight, and it
never holds back what the administrator sends explicitly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.rules import workflow
from bridge.survey.asking import COOLDOWN_REASON
from bridge.worker.retrying import retry_failed
from outbound.errors import RejectedError, TransientError
from storage.db import transaction
from storage.survey import surveys
from storage.tables import Survey, SurveyState
from tests.fast.harness import CONTACT_ID, Service, closed_ticket

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def two_tickets(service: Service) -> None:
    """Tickets 1 and 2 of one requester, closed in Okdesk."""
    for issue_id in (1, 2):
        service.helpdesk.tickets[issue_id] = closed_ticket(issue_id)


def _of(service: Service, issue_id: int) -> Survey:
    (survey,) = [s for s in service.surveys() if s.issue_id == issue_id]
    return survey


async def test_two_closures_within_seconds_get_one_invitation_while_the_first_is_in_flight(
    service: Service,
) -> None:
    service.configure(survey_cooldown="7d")
    service.messenger.fail("send", TransientError("imbot.message.add: 503", retry_after=60))
    service.close(1)
    await service.drain()  # the first invitation's send failed: it is in flight, retried
    first = _of(service, 1)
    assert first.state == SurveyState.INVITING and first.bitrix_user_id is not None

    service.clock.advance(timedelta(seconds=3))
    service.close(2)
    await service.drain()
    await service.later(timedelta(minutes=10))

    assert _of(service, 1).state == SurveyState.AWAITING
    second = _of(service, 2)
    assert second.state == SurveyState.SKIPPED and second.reason == COOLDOWN_REASON
    assert len(service.chat()) == 1


async def test_the_administrators_resend_of_an_undeliverable_survey_beats_the_cooldown(
    service: Service,
) -> None:
    service.configure(survey_cooldown="7d")
    service.close(1)
    await service.drain()
    email = service.helpdesk.emails.pop(CONTACT_ID)
    service.close(2)
    await service.drain()
    assert _of(service, 2).state == SurveyState.UNDELIVERABLE

    service.helpdesk.emails[CONTACT_ID] = email  # the operator fixed the contact's e-mail
    with transaction(service.engine) as session:
        resent = workflow.resent(_of(service, 2).id or 0)
        assert surveys.apply_change(session, resent, now=service.clock.now())
    await service.drain()

    assert _of(service, 2).state == SurveyState.AWAITING and _of(service, 2).reason is None
    assert len(service.chat()) == 2


async def test_retry_failed_of_a_failed_invitation_beats_the_cooldown(service: Service) -> None:
    service.configure(survey_cooldown="7d")
    service.messenger.fail("send", RejectedError("imbot.message.add: ACCESS_DENIED"))
    service.close(2)
    await service.drain()
    assert _of(service, 2).state == SurveyState.FAILED
    service.close(1)
    await service.drain()
    assert _of(service, 1).state == SurveyState.AWAITING  # the person was asked just now

    assert retry_failed(service.engine, service.settings, service.clock.now()) == (1, [])
    await service.drain()

    assert _of(service, 2).state == SurveyState.AWAITING
    assert len(service.chat()) == 2
