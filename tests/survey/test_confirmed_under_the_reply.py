"""Issue 22, point 2: a typed score or a change of mind is confirmed by a new message under the
person's reply, not only by an edit of the invitation far up the chat (which still loses its
buttons); the confirmation is a bot message like any other, within REPLIES_PER_MINUTE."""

from __future__ import annotations

import json

import pytest

from storage.tables import JobKind
from tests.fast.harness import ISSUE_ID, Service
from tests.survey.steps import configure, press_change_button, rated

pytestmark = pytest.mark.anyio

THANKS = "Спасибо! Ваша оценка заявки №{number}: {score} из 5."


def _texts(service: Service) -> list[str]:
    return [posted.message.text for posted in service.chat()]


async def test_a_typed_score_is_confirmed_by_a_new_message_below_the_reply(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    service.close()
    await service.drain()

    assert service.type_reply("4", access_token="") == "rated"
    await service.drain()

    thanks = THANKS.format(number=ISSUE_ID, score=4)
    assert _texts(service) == [thanks, thanks]
    assert service.chat()[0].buttons != [] and service.chat()[-1].buttons == []
    replies = [json.loads(j.payload) for j in service.jobs() if j.kind == JobKind.REPLY]
    assert [reply["text"] for reply in replies] == [thanks]


async def test_a_change_of_mind_is_confirmed_by_a_new_message(service: Service) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 2)
    assert press_change_button(service) == "change_offered"
    await service.drain()

    assert service.click(4) == "changed"
    await service.drain()

    thanks = THANKS.format(number=ISSUE_ID, score=4)
    assert _texts(service) == [thanks, thanks]
    assert [str(b["TEXT"]) for b in service.chat()[0].buttons] == ["Изменить оценку"]


async def test_a_clicked_first_score_is_confirmed_where_it_was_clicked_only(
    service: Service,
) -> None:
    configure(service, followup_max_score="off")
    await rated(service, 5)
    assert _texts(service) == [THANKS.format(number=ISSUE_ID, score=5)]


async def test_the_confirmation_counts_against_the_minutes_share(service: Service) -> None:
    configure(service, followup_max_score="5", replies_per_minute="1")
    service.close()
    await service.drain()

    assert service.type_reply("2", access_token="") == "rated"
    await service.drain()

    # The confirmation took the minute's one message: the follow-up question is not asked.
    assert _texts(service)[1:] == [THANKS.format(number=ISSUE_ID, score=2)]
    assert service.survey().followup_asked_at is None
