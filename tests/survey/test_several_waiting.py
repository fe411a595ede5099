"""Several tickets waiting: a typed score asks which ticket (a button per ticket), unless the
text names one («№12345 — 4»); every confirmation names the ticket it rated."""

from __future__ import annotations

import pytest

from storage.tables import SurveyState
from tests.fast.harness import ISSUE_ID, TITLE, USER_ID, Service
from tests.survey.steps import add_ticket, configure

pytestmark = pytest.mark.anyio

OTHER = 314700


async def _two_waiting(service: Service) -> None:
    configure(service, followup_max_score="off", change_window="off")
    add_ticket(service, OTHER)
    service.close(ISSUE_ID)
    service.close(OTHER)
    await service.drain()
    assert [s.state for s in service.surveys()] == [SurveyState.AWAITING] * 2


def _state(service: Service) -> dict[int, tuple[SurveyState, int | None]]:
    return {s.issue_id: (s.state, s.score) for s in service.surveys()}


async def test_a_typed_score_asks_which_ticket_with_a_button_each(service: Service) -> None:
    await _two_waiting(service)

    assert service.type_reply("4", message_id=1) == "which_ticket"
    await service.drain()

    question = service.chat()[-1]
    assert question.message.text == (
        "Ваших оценок ждут несколько заявок. Какую из них вы оцениваете на 4? "
        "Нажмите кнопку с её номером."
    )
    titles = [f"№{OTHER} «{TITLE}»", f"№{ISSUE_ID} «{TITLE}»"]
    assert [b["TEXT"] for b in question.buttons] == titles  # the title, not only the number
    assert all(p.message.keyboard for p in service.chat()[:2])

    other_token = service.surveys()[1].token
    assert question.buttons[0]["COMMAND_PARAMS"] == f"{other_token}:4"
    assert service.click(4, token=other_token) == "rated"
    await service.drain()

    assert _state(service) == {
        ISSUE_ID: (SurveyState.AWAITING, None),
        OTHER: (SurveyState.RATED, 4),
    }
    rated_message = next(p for p in service.chat() if f"№{OTHER}" in p.message.text)
    assert rated_message.message.text == f"Спасибо! Ваша оценка заявки №{OTHER}: 4 из 5."
    # «Which ticket?» was answered: its buttons go (issue 22, point 1).
    answered = service.messenger.chat[max(service.messenger.chat)]
    assert answered.dialog_id == str(USER_ID) and answered.edits == 1
    assert answered.buttons == [] and f"№{OTHER}: 4 из 5" in answered.message.text


async def test_a_score_naming_its_ticket_rates_that_ticket(service: Service) -> None:
    await _two_waiting(service)

    assert service.type_reply(f"№{ISSUE_ID} — 2", message_id=1) == "verifying"
    await service.drain()

    assert _state(service) == {
        ISSUE_ID: (SurveyState.RATED, 2),
        OTHER: (SurveyState.AWAITING, None),
    }
    assert service.chat()[0].message.text == f"Спасибо! Ваша оценка заявки №{ISSUE_ID}: 2 из 5."


async def test_a_score_naming_a_ticket_not_waiting_is_told_so(service: Service) -> None:
    await _two_waiting(service)
    assert service.type_reply("№999 — 5", message_id=1) == "no_survey"
    await service.drain()
    assert service.chat()[-1].message.text == "Заявка №999 не ждёт вашей оценки."
    assert all(state == SurveyState.AWAITING for state, _ in _state(service).values())


async def test_one_waiting_ticket_is_rated_without_asking(service: Service) -> None:
    configure(service, followup_max_score="off", change_window="off")
    service.close()
    await service.drain()
    assert service.type_reply("4", message_id=1) == "verifying"
    await service.drain()
    assert _state(service) == {ISSUE_ID: (SurveyState.RATED, 4)}


async def test_a_doubtful_score_with_two_waiting_asks_which_ticket_too(service: Service) -> None:
    await _two_waiting(service)
    assert service.type_reply("ну 4 наверное", message_id=1) == "which_ticket"


async def test_an_answer_about_one_ticket_never_rates_the_other(service: Service) -> None:
    """Issue 22, point 5: «Ужасно долго» reads as a score, yet it answers «Что пошло не так?»."""
    await _two_waiting(service)
    configure(service, followup_max_score="3", change_window="off")
    assert service.click(2, token=service.surveys()[0].token) == "rated"
    await service.drain()
    assert service.chat()[-1].message.text.startswith(f"Что пошло не так с заявкой №{ISSUE_ID}?")

    assert service.type_reply("Ужасно долго", message_id=1) == "followed_up"
    await service.drain()

    assert _state(service) == {
        ISSUE_ID: (SurveyState.RATED, 2),
        OTHER: (SurveyState.AWAITING, None),
    }
    assert service.surveys()[0].followup_text == "Ужасно долго"
    (comment,) = [text for _, text, *_ in service.helpdesk.comments]
    assert comment.startswith("Ужасно долго<br>")
    # Once answered, a score names the other ticket again.
    assert service.type_reply("5", message_id=2) == "verifying"
