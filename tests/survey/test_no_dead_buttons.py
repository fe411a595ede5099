"""No button that does nothing (issue 22, point 1): every message that carried a survey's
buttons loses them when the survey ends, and a press on an ended survey is answered once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.rules import workflow
from storage.db import transaction
from storage.survey import surveys
from storage.survey.asking import set_language
from tests.fast.harness import ISSUE_ID, USER_ID, Service
from tests.survey.steps import configure

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)


async def _reminded(service: Service) -> None:
    configure(service, reminder_after="12h", followup_max_score="off")
    service.close()
    await service.drain()
    await service.later(12 * HOUR)
    assert len(service.chat()) == 2  # the invitation and the reminder, both with buttons


def _withdraw(service: Service) -> None:
    with transaction(service.engine) as session:
        change = workflow.withdrawn(service.survey().id or 0, now=service.clock.now())
        assert surveys.apply_change(session, change, now=service.clock.now())


async def test_after_a_reminder_and_the_timeout_no_message_keeps_a_score_button(
    service: Service,
) -> None:
    await _reminded(service)
    await service.later(12 * HOUR)

    invitation, reminder = service.chat()
    assert invitation.buttons == [] and reminder.buttons == []
    assert "истекло" in invitation.message.text and "истекло" in reminder.message.text


async def test_after_a_reminder_a_click_takes_the_buttons_off_the_invitation_too(
    service: Service,
) -> None:
    await _reminded(service)
    assert service.click(4) == "rated"
    await service.drain()

    invitation, reminder = service.chat()
    assert invitation.buttons == [] and "4 из 5" in invitation.message.text
    assert [b["TEXT"] for b in reminder.buttons] == ["Изменить оценку"]


@pytest.mark.parametrize(
    ("ending", "said"),
    [
        ("rated", f"Заявка №{ISSUE_ID} уже оценена: 4 из 5. Спасибо!"),
        ("timeout", f"Время для оценки заявки №{ISSUE_ID} истекло."),
        ("reopened", f"Заявка №{ISSUE_ID} снова открыта, оценивать её пока не нужно."),
        ("withdrawn", f"Оценка заявки №{ISSUE_ID} больше не нужна."),
    ],
)
async def test_a_press_on_an_ended_survey_is_answered_once_with_what_happened(
    service: Service, ending: str, said: str
) -> None:
    await _reminded(service)
    if ending == "rated":
        assert service.click(4) == "rated"
    elif ending == "timeout":
        service.clock.advance(12 * HOUR)
    elif ending == "reopened":
        service.reopen()
    else:
        _withdraw(service)
    await service.drain()
    before = len(service.chat())

    assert service.click(2) == "already_done"
    assert service.click(3) == "already_done"
    await service.drain()

    answers = [p.message.text for p in service.chat()[before:]]
    assert answers == [said]


async def test_an_ended_survey_is_answered_in_english_too(service: Service) -> None:
    await _reminded(service)
    with transaction(service.engine) as session:
        set_language(session, survey_id=service.survey().id or 0, language="en")
    service.reopen()
    await service.drain()
    before = len(service.chat())
    assert service.click(2) == "already_done"
    await service.drain()
    (said,) = [p.message.text for p in service.chat()[before:]]
    assert said == f"Ticket #{ISSUE_ID} was reopened, so it needs no rating for now."


async def test_the_ask_back_loses_its_buttons_when_the_survey_is_rated(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    service.close()
    await service.drain()
    assert service.type_reply("ну на четвёрочку наверное", message_id=1) == "asked_back"
    await service.drain()
    _, ask_back = service.chat()
    assert len(ask_back.buttons) == 5

    assert service.click(4) == "rated"
    await service.drain()

    assert service.chat(USER_ID)[1].buttons == []
    assert "4 из 5" in service.chat()[1].message.text
