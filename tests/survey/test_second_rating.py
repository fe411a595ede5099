"""Okdesk may refuse or ignore a second rating of a ticket (okdesk.md §12). When a change of
mind does not take, the person is told so honestly and the operator sees why (issue 21)."""

from __future__ import annotations

import io

import pytest

from bridge.admin.context import Context
from bridge.admin.views import show_ticket
from storage.tables import SurveyState
from tests.fast.harness import ISSUE_ID, Service
from tests.survey.steps import configure, press_change_button, rated

pytestmark = pytest.mark.anyio

KEPT = (
    f"Okdesk оставил у заявки №{ISSUE_ID} прежнюю оценку: изменить её не удалось. "
    "Ваша оценка 4 из 5 сохранена у нас, и служба поддержки её увидит."
)


async def _change_to_four(service: Service) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 2)
    press_change_button(service)
    await service.drain()
    assert service.click(4) == "changed"
    await service.drain()


@pytest.mark.parametrize("reading", ["ignored", "refused"])
async def test_a_change_okdesk_does_not_take_is_told_and_shown(
    service: Service, reading: str
) -> None:
    service.helpdesk.second_rating = reading
    await _change_to_four(service)

    assert service.helpdesk.tickets[ISSUE_ID].rate == "bad"
    survey = service.survey()
    assert (survey.state, survey.score, survey.okdesk_rate) == (SurveyState.RATED, 4, "bad")
    assert survey.rating_sent_at is not None
    assert survey.reason is not None and "kept the earlier rating 'bad'" in survey.reason
    assert service.chat()[-1].message.text == KEPT
    out = io.StringIO()
    show_ticket(Context(service.engine, service.settings, out), ISSUE_ID)
    assert "reason: Okdesk kept the earlier rating 'bad'" in out.getvalue()
    assert "okdesk_rate: bad" in out.getvalue()


async def test_a_change_okdesk_takes_says_nothing_more(service: Service) -> None:
    await _change_to_four(service)
    survey = service.survey()
    assert (survey.score, survey.okdesk_rate, survey.reason) == (4, "good", None)
    assert all(posted.message.text != KEPT for posted in service.chat())
