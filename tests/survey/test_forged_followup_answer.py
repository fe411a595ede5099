"""Issue 23, point 10: an answer to «Что пошло не так?» forged in the person's name (with no
token in events the channel is the only proof, and a forger holding the handler URL passes it)
does not close the question: it stays open for its window, the person's own answer is kept
after it and reaches Okdesk, and a flood of forged answers is bounded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outbound.errors import TransientError
from tests.fast.harness import ISSUE_ID, Service
from tests.survey.steps import rated

pytestmark = pytest.mark.anyio


def _comments(service: Service) -> list[str]:
    return [content for issue, content, *_ in service.helpdesk.comments if issue == ISSUE_ID]


async def test_the_persons_complaint_after_a_forged_answer_reaches_okdesk(
    service: Service,
) -> None:
    await rated(service, 2)
    service.messenger.token_owners.clear()
    assert service.type_reply("Всё хорошо", message_id=1, access_token="") == "followed_up"
    await service.drain()

    real = "Мастер не пришёл, заявку закрыли без работы"
    assert service.type_reply(real, message_id=2, access_token="") == "followed_up"
    await service.drain()

    survey_id = service.survey().id
    comments = _comments(service)
    assert len(comments) == 2
    assert comments[1] == f"Всё хорошо<br><br>{real}<br>[rating-bot #{survey_id} followup 2]"
    assert service.survey().followup_text == f"Всё хорошо\n\n{real}"


async def test_answers_are_kept_only_while_the_question_is_open_and_are_bounded(
    service: Service,
) -> None:
    await rated(service, 2)
    for n in range(8):
        service.type_reply(f"ответ {n}", message_id=10 + n, access_token="")
    await service.drain()
    assert service.survey().followup_answers == 5
    assert len(_comments(service)) <= 5

    await service.later(timedelta(hours=24))
    assert service.type_reply("поздно", message_id=30, access_token="") != "followed_up"
    assert "поздно" not in (service.survey().followup_text or "")


async def test_a_forged_answer_with_another_persons_token_leaves_the_persons_own(
    service: Service,
) -> None:
    """An event carrying a token proves its sender through `profile`: an answer typed with a
    colleague's valid token is not the person's, and only it is dropped, not what the person
    wrote before it."""
    await rated(service, 2)
    own = "Мастер опоздал на два часа"
    assert service.type_reply(own, message_id=1) == "followed_up"
    service.messenger.token_owners["colleague-token"] = 45
    forged = "Всё отлично, претензий нет"
    assert service.type_reply(forged, message_id=2, access_token="colleague-token") == (
        "followed_up"
    )
    await service.drain()

    survey = service.survey()
    assert survey.followup_text == own
    assert survey.followup_answers == 1
    assert all(forged not in comment for comment in _comments(service))
    assert any(own in comment for comment in _comments(service))


async def test_an_answer_waiting_for_its_check_never_rides_on_an_earlier_answers_post(
    service: Service,
) -> None:
    """The person's answer is proven and its post waits for a retry (Okdesk was down); a
    forged answer kept meanwhile must not go to Okdesk with it when the retry runs before
    the forged answer's check."""
    await rated(service, 2)
    own = "Мастер опоздал на два часа"
    assert service.type_reply(own, message_id=1) == "followed_up"
    service.helpdesk.fail("comment_issue", TransientError("Okdesk 503"))
    await service.drain()
    assert not _comments(service)

    service.messenger.token_owners["colleague-token"] = 45
    forged = "Всё отлично, претензий нет"
    service.type_reply(forged, message_id=2, access_token="colleague-token")
    await service.later(timedelta(minutes=30))

    assert [c for c in _comments(service) if forged in c] == []
    assert [c for c in _comments(service) if own in c] != []
    assert service.survey().followup_text == own


async def test_an_answer_whose_token_the_portal_refuses_is_not_kept(service: Service) -> None:
    """A token the portal does not accept (expired, invented) vouches for nobody: the words
    are not kept as the person's and never reach Okdesk."""
    await rated(service, 2)
    invented = "Всё отлично, претензий нет"
    service.type_reply(invented, message_id=1, access_token="invented-token")
    await service.drain()
    assert service.survey().followup_text is None
    assert all(invented not in comment for comment in _comments(service))


async def test_a_forged_answer_after_the_persons_posted_one_says_nothing_twice(
    service: Service,
) -> None:
    await rated(service, 2)
    own = "Мастер опоздал на два часа"
    service.type_reply(own, message_id=1)
    await service.drain()
    told = len(service.chat())
    service.messenger.token_owners["colleague-token"] = 45
    forged = "Претензий к мастеру нет"
    assert service.type_reply(forged, message_id=2, access_token="colleague-token") == (
        "followed_up"
    )
    await service.drain()
    assert len(_comments(service)) == 1
    assert len(service.chat()) == told
