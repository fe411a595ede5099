"""Ask why after a low rating: the question, the answer kept with the survey and posted to
Okdesk as the contact's comment (retried like the rating), and the edges (after the window,
switched off, after a high score, a forged sender)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outbound.errors import TransientError
from tests.fast.harness import CONTACT_ID, ISSUE_ID, Service
from tests.survey.steps import add_ticket, configure, rated

pytestmark = pytest.mark.anyio

QUESTION = f"Что пошло не так с заявкой №{ISSUE_ID}?"
PASSED = f"Спасибо! Ваш комментарий к заявке №{ISSUE_ID} передан в службу поддержки."


def _texts(service: Service) -> list[str]:
    return [posted.message.text for posted in service.chat()]


async def test_a_low_score_is_followed_by_the_question_and_the_reason_reaches_okdesk(
    service: Service,
) -> None:
    await rated(service, 2)
    assert any(text.startswith(QUESTION) for text in _texts(service))

    assert service.type_reply("Мастер опоздал <на 2 часа>\nи не извинился", message_id=1) == (
        "followed_up"
    )
    await service.drain()

    mark = f"[rating-bot #{service.survey().id} followup]"
    assert service.helpdesk.comments == [
        (
            ISSUE_ID,
            f"Мастер опоздал &lt;на 2 часа&gt;<br>и не извинился<br>{mark}",
            CONTACT_ID,
            "contact",
            False,
        )
    ]
    survey = service.survey()
    assert survey.followup_text == "Мастер опоздал <на 2 часа>\nи не извинился"
    assert survey.followup_posted_at is not None and survey.followup_until is not None
    assert _texts(service)[-1] == PASSED
    # The question is asked once: a score after the answer is not another answer.
    assert service.type_reply("5", message_id=2) != "followed_up"
    await service.drain()
    assert len(service.helpdesk.comments) == 1


async def test_the_comment_is_public_when_configured(service: Service) -> None:
    configure(service, followup_comment_public="true")
    await rated(service, 1)
    service.type_reply("Не работает", message_id=1)
    await service.drain()
    assert [public for *_, public in service.helpdesk.comments] == [True]


async def test_a_message_after_the_window_is_not_a_follow_up(service: Service) -> None:
    await rated(service, 2)
    await service.later(timedelta(hours=24, seconds=1))

    assert service.type_reply("Мастер опоздал", message_id=1) == "no_survey"
    await service.drain()

    assert service.helpdesk.comments == []
    assert service.survey().followup_text is None
    assert _texts(service)[-1] == "Сейчас нет заявок, которые ждут вашей оценки. Спасибо!"


async def test_a_message_just_inside_the_window_is_the_follow_up(service: Service) -> None:
    await rated(service, 3)
    await service.later(timedelta(hours=23, minutes=59))
    assert service.type_reply("Долго", message_id=1) == "followed_up"
    await service.drain()
    assert len(service.helpdesk.comments) == 1


async def test_a_high_score_is_asked_nothing_unless_followup_on_high(service: Service) -> None:
    await rated(service, 4)
    assert len(service.chat()) == 1
    assert service.type_reply("Спасибо большое", message_id=1) != "followed_up"

    configure(service, followup_on_high="true")
    add_ticket(service, ISSUE_ID + 1)
    service.close(ISSUE_ID + 1)
    await service.drain()
    assert service.click(5) == "rated"
    await service.drain()
    assert _texts(service)[-1].startswith(
        f"Хотите что-нибудь добавить к оценке заявки №{ISSUE_ID + 1}?"
    )


async def test_followup_off_asks_nothing(service: Service) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 1)
    assert len(service.chat()) == 1 and service.survey().followup_asked_at is None


async def test_the_comment_is_retried_while_okdesk_fails(service: Service) -> None:
    await rated(service, 2)
    service.helpdesk.fail("comment_issue", TransientError("HTTP 503"), TransientError("HTTP 503"))
    service.type_reply("Плохо починили", message_id=1)
    await service.drain()
    assert service.helpdesk.comments == [] and service.survey().followup_text == "Плохо починили"

    await service.later(timedelta(minutes=5))
    await service.later(timedelta(minutes=5))

    assert len(service.helpdesk.comments) == 1
    assert _texts(service)[-1] == PASSED


async def test_a_follow_up_whose_sender_is_someone_else_is_not_posted(service: Service) -> None:
    await rated(service, 2)
    service.messenger.token_owners["someone-elses-token"] = 99
    service.type_reply("Ложный отзыв", message_id=1, access_token="someone-elses-token")
    await service.drain()
    assert service.helpdesk.comments == []
    assert service.survey().followup_text is None


async def test_a_follow_up_over_the_event_channel_with_no_token_reaches_okdesk(
    service: Service,
) -> None:
    """A webhook bot's events carry no user token (bitrix24.md §12): the authenticated event
    channel is the proof, so the answer is posted without asking `profile`."""
    await rated(service, 2)
    service.messenger.token_owners.clear()
    assert service.type_reply("Мастер опоздал", message_id=1, access_token="") == "followed_up"
    await service.drain()
    mark = f"[rating-bot #{service.survey().id} followup]"
    assert [comment[1] for comment in service.helpdesk.comments] == [f"Мастер опоздал<br>{mark}"]
    assert _texts(service)[-1] == PASSED
