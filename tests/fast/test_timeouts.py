"""Silence gets the default rating once RATING_TIMEOUT has passed, marked automatic, and a
default never overrides a rating the ticket already shows in the helpdesk."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from storage.tables import SurveyState
from tests.fast.harness import ISSUE_ID, Service

pytestmark = pytest.mark.anyio

TIMEOUT = timedelta(hours=24)
SECOND = timedelta(seconds=1)


async def test_silence_gets_the_default_marked_automatic(service: Service) -> None:
    service.close()
    await service.drain()
    await service.later(TIMEOUT - SECOND)
    assert service.survey().state == SurveyState.AWAITING
    done = await service.later(2 * SECOND)
    assert done["timeouts applied"] == 1
    survey = service.survey()
    assert (survey.state, survey.score, survey.automatic) == (SurveyState.DEFAULTED, 5, True)
    assert service.rated() == ["good"]
    (invitation,) = service.chat()
    assert invitation.buttons == [] and "истекло" in invitation.message.text


async def test_the_default_score_is_a_setting(service: Service) -> None:
    service.configure(default_rating=2, rating_timeout="1h")
    service.close()
    await service.drain()
    await service.later(timedelta(hours=1))
    assert (service.survey().score, service.rated()) == (2, ["bad"])


async def test_a_default_never_overrides_a_rating_given_in_the_helpdesk(service: Service) -> None:
    service.close()
    await service.drain()
    ticket = service.helpdesk.tickets[ISSUE_ID]
    service.helpdesk.tickets[ISSUE_ID] = replace(ticket, rate="normal")
    await service.later(TIMEOUT)
    survey = service.survey()
    assert service.helpdesk.rated == []
    assert (survey.state, survey.okdesk_rate) == (SurveyState.DEFAULTED, "normal")
    assert "already rated 'normal'" in (survey.reason or "")


async def test_a_click_after_the_timeout_rates_nothing(service: Service) -> None:
    service.close()
    await service.drain()
    await service.later(TIMEOUT)
    assert service.click(1) == "already_done"
    await service.drain()
    assert service.rated() == ["good"]


async def test_an_undeliverable_survey_gets_the_default_when_switched_on(
    service: Service,
) -> None:
    service.configure(default_rating_when_undeliverable=True)
    service.messenger.users.clear()
    service.close()
    await service.drain()
    await service.later(TIMEOUT)
    assert service.survey().state == SurveyState.DEFAULTED
    assert service.rated() == ["good"]


async def test_an_undeliverable_survey_stays_unrated_by_default(service: Service) -> None:
    service.messenger.users.clear()
    service.close()
    await service.drain()
    await service.later(TIMEOUT)
    assert service.survey().state == SurveyState.UNDELIVERABLE
    assert service.survey().deadline_at is None
    assert service.rated() == []


async def test_default_rating_off_leaves_the_survey_waiting(service: Service) -> None:
    service.configure(default_rating="off")
    service.close()
    await service.drain()
    await service.later(TIMEOUT * 3)
    survey = service.survey()
    assert (survey.state, survey.deadline_at) == (SurveyState.AWAITING, None)
    assert service.rated() == []
    assert service.click(3) == "rated"
