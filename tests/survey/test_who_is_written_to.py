"""Issue 23, point 7: every bot message counts against REPLIES_PER_MINUTE (which ticket, not
waiting, the follow-up question and a late change included), and the bot writes only to people
it has a survey with or who opened the chat themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.survey.replies.answers import welcome
from storage.tables import JobKind
from tests.fast.harness import ISSUE_ID, USER_ID, Service
from tests.survey.steps import add_ticket, configure, rated

pytestmark = pytest.mark.anyio

OTHER = 314700


def _replies(service: Service) -> int:
    return sum(1 for job in service.jobs() if job.kind == JobKind.REPLY)


async def test_a_flood_of_replies_gets_no_more_bot_messages_than_the_minutes_share(
    service: Service,
) -> None:
    configure(service, followup_max_score="off", change_window="off")
    add_ticket(service, OTHER)
    service.close(ISSUE_ID)
    service.close(OTHER)
    await service.drain()
    before = _replies(service)

    for n in range(20):
        service.type_reply("4", message_id=100 + n)  # which ticket?
        service.type_reply("№999 — 5", message_id=200 + n)  # not waiting

    assert _replies(service) - before == service.settings.replies_per_minute
    await service.later(timedelta(minutes=1))
    assert service.type_reply("4", message_id=300) == "which_ticket"
    assert _replies(service) - before == service.settings.replies_per_minute + 1


async def test_the_follow_up_question_and_a_late_change_count_against_the_share(
    service: Service,
) -> None:
    configure(service, replies_per_minute="1", change_window="1h")
    await rated(service, 2)  # the question «Что пошло не так?» takes the minute's one message
    assert service.survey().followup_asked_at is not None
    before = _replies(service)
    await service.later(timedelta(hours=1, seconds=1))
    for score in (1, 5):
        service.click(score)  # late presses: the first is answered, within the share
    assert _replies(service) - before == 1


async def test_a_question_that_could_not_be_sent_is_not_open(service: Service) -> None:
    configure(service, replies_per_minute="1")
    service.close()
    await service.drain()
    for n in range(3):
        service.type_reply("как оценить?", message_id=400 + n)  # the minute's share is spent
    assert service.click(2) == "rated"
    assert service.survey().followup_asked_at is None
    # So the person's next words are not swallowed as the answer to a question never shown.
    assert service.type_reply("и ещё", message_id=500) != "followed_up"


async def test_only_a_person_with_a_survey_or_who_opened_the_chat_is_answered(
    service: Service,
) -> None:
    now = service.clock.now()
    assert service.type_reply("алло?", message_id=600) == "no_survey"
    await service.drain()
    assert service.chat() == []

    welcome(service.engine, service.settings, USER_ID, "ru", now)
    welcome(service.engine, service.settings, USER_ID, "ru", now)  # a repeated join
    assert service.type_reply("алло?", message_id=601) == "no_survey"
    await service.drain()
    assert [p.message.text[:13] for p in service.chat()] == ["Здравствуйте!", "Сейчас нет за"]
