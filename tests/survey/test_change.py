"""Change of mind: «Изменить оценку» under the thank-you for CHANGE_WINDOW, the five buttons
again, the new score in Okdesk, the history; the window's end (its button taken away, a late
press answered, a change racing it), a reopened ticket, and how it meets the follow-up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from tests.fast.fakes import MemoryHelpdesk
from tests.fast.harness import ISSUE_ID, USER_ID, Service
from tests.survey.steps import configure, history, press_change_button, rated

pytestmark = pytest.mark.anyio

THANKS = "Спасибо! Ваша оценка заявки №{number}: {score} из 5."


def _invitation_buttons(service: Service) -> list[str]:
    return [str(button["TEXT"]) for button in service.chat()[0].buttons]


async def test_a_changed_score_replaces_the_old_one_in_okdesk_and_is_kept(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 2)
    invitation = service.chat()[0]
    assert invitation.message.text == THANKS.format(number=ISSUE_ID, score=2)
    assert _invitation_buttons(service) == ["Изменить оценку"]

    assert press_change_button(service) == "change_offered"
    await service.drain()
    assert _invitation_buttons(service) == ["1", "2", "3", "4", "5"]
    assert "№" + str(ISSUE_ID) in service.chat()[0].message.text

    assert service.click(4) == "changed"
    await service.drain()

    assert service.rated() == ["bad", "good"]
    survey = service.survey()
    assert (survey.score, survey.okdesk_rate, survey.changing) == (4, "good", False)
    assert survey.rating_sent_at is not None
    assert history(service) == [(2, 4, USER_ID, "click")]
    assert service.chat()[0].message.text == THANKS.format(number=ISSUE_ID, score=4)
    assert _invitation_buttons(service) == ["Изменить оценку"]


async def test_a_typed_new_score_is_a_change_by_text(service: Service) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 5)
    press_change_button(service)
    await service.drain()

    service.type_reply("3", message_id=10)
    await service.drain()

    assert service.survey().score == 3 and service.rated() == ["good", "normal"]
    assert history(service) == [(5, 3, USER_ID, "text")]


async def test_a_click_without_pressing_change_changes_nothing(service: Service) -> None:
    await rated(service, 4)
    assert service.click(1) == "already_done"
    await service.drain()
    assert service.survey().score == 4 and history(service) == []


async def test_the_button_goes_when_the_window_ends_and_a_late_press_is_answered(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 2)
    await service.later(timedelta(hours=1))

    assert _invitation_buttons(service) == []
    assert service.chat()[0].message.text == THANKS.format(number=ISSUE_ID, score=2)
    assert service.survey().change_until is None

    assert press_change_button(service) == "change_closed"
    assert press_change_button(service) == "change_closed"
    await service.drain()
    late = [p.message.text for p in service.chat()[1:]]
    assert late == [
        f"Оценку заявки №{ISSUE_ID} уже нельзя изменить: время для этого прошло. "
        "Ваша оценка 2 из 5 сохранена. Спасибо!"
    ]
    assert service.survey().score == 2 and service.rated() == ["bad"]


async def test_a_change_just_before_the_window_ends_wins_over_the_chore(service: Service) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 2)
    press_change_button(service)
    await service.drain()
    service.clock.advance(timedelta(minutes=59, seconds=59))

    assert service.click(4) == "changed"
    await service.later(timedelta(seconds=1))

    assert service.rated() == ["bad", "good"] and history(service) == [(2, 4, USER_ID, "click")]
    assert _invitation_buttons(service) == []
    assert service.chat()[0].message.text == THANKS.format(number=ISSUE_ID, score=4)


async def test_a_change_at_the_windows_end_loses_even_before_the_chore_ran(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 2)
    press_change_button(service)
    await service.drain()
    service.clock.advance(timedelta(hours=1))

    assert service.click(4) == "already_done"
    await service.drain()

    assert service.survey().score == 2 and history(service) == []
    assert service.rated() == ["bad"] and _invitation_buttons(service) == []
    assert service.chat()[-1].message.text.startswith(f"Оценку заявки №{ISSUE_ID} уже нельзя")


async def test_a_reopened_ticket_keeps_its_rating(service: Service) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 2)
    service.reopen()
    await service.drain()

    assert press_change_button(service) == "change_closed"
    await service.drain()
    assert service.chat()[-1].message.text == (
        f"Заявка №{ISSUE_ID} снова открыта, оценивать её пока не нужно."
    )
    assert service.survey().score == 2 and service.rated() == ["bad"]


async def test_someone_elses_press_changes_nothing(service: Service) -> None:
    await rated(service, 2)
    assert press_change_button(service, user_id=45) == "ignored"
    assert service.survey().changing is False


async def test_change_window_off_shows_no_button(service: Service) -> None:
    configure(service, change_window="off", followup_max_score="off")
    await rated(service, 3)
    assert _invitation_buttons(service) == []
    assert press_change_button(service) == "change_closed"


async def test_a_change_to_a_low_score_asks_why_once(service: Service) -> None:
    await rated(service, 5)
    assert len(service.chat()) == 1
    press_change_button(service)
    await service.drain()
    service.click(2)
    await service.drain()
    assert service.chat()[-1].message.text.startswith(f"Что пошло не так с заявкой №{ISSUE_ID}?")

    press_change_button(service)
    await service.drain()
    service.click(1)
    await service.drain()
    questions = [p for p in service.chat() if p.message.text.startswith("Что пошло не так")]
    assert len(questions) == 1
    assert history(service) == [(5, 2, USER_ID, "click"), (2, 1, USER_ID, "click")]


async def test_the_follow_up_stays_open_through_a_change(service: Service) -> None:
    await rated(service, 2)
    press_change_button(service)
    await service.drain()
    service.type_reply("4", message_id=20)
    await service.drain()
    assert service.survey().score == 4

    assert service.type_reply("Но сначала было плохо", message_id=21) == "followed_up"
    await service.drain()
    mark = f"[rating-bot #{service.survey().id} followup]"
    assert [c for _, c, *_ in service.helpdesk.comments] == [f"Но сначала было плохо<br>{mark}"]


class _ChangingMidWrite(MemoryHelpdesk):
    """Okdesk, where the person changes their score while the first rating is being written."""

    def __init__(self, source: MemoryHelpdesk, during: Callable[[], object]) -> None:
        super().__init__()
        self.tickets, self.emails = source.tickets, source.emails
        self._during: Callable[[], object] | None = during

    async def rate_issue(self, issue_id: int, rate: str) -> None:
        await super().rate_issue(issue_id, rate)
        if self._during is not None:
            during, self._during = self._during, None
            during()


async def test_a_change_while_the_first_rating_is_written_still_reaches_okdesk(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    service.close()
    await service.drain()

    def change_now() -> None:
        assert press_change_button(service) == "change_offered"
        assert service.click(5) == "changed"

    service.helpdesk = _ChangingMidWrite(service.helpdesk, change_now)
    assert service.click(1) == "rated"
    await service.drain()
    await service.drain()

    survey = service.survey()
    assert service.rated() == ["bad", "good"]
    assert (survey.score, survey.okdesk_rate) == (5, "good")
    assert survey.rating_sent_at is not None and history(service) == [(1, 5, USER_ID, "click")]


async def test_the_purge_forgets_who_changed_a_score(service: Service) -> None:
    configure(service, followup_max_score="off", personal_data_retention="1d")
    await rated(service, 2)
    press_change_button(service)
    service.click(3)
    await service.drain()
    assert service.survey().followup_text is None
    await service.later(timedelta(days=2))
    assert service.survey().personal_data_purged
    assert history(service) == [(2, 3, None, "click")]
