"""The answer to «Что пошло не так?» becomes exactly one Okdesk comment (issue 21): a retry
after a lost answer finds it by its mark though Okdesk rewrote its HTML; a contact's comment
Okdesk refuses is written by the OKDESK_COMMENT_AUTHOR_ID employee, quoting the contact."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outbound.errors import TransientError
from storage.tables import JobKind, JobState
from tests.fast.harness import CONTACT_ID, ISSUE_ID, Service
from tests.survey.steps import configure, rated

pytestmark = pytest.mark.anyio
MARK = "[rating-bot #{} followup]"


async def _answer_why(service: Service, text: str) -> None:
    await rated(service, 2)
    assert service.type_reply(text, message_id=1) == "followed_up"
    await service.drain()
    for _ in range(3):
        await service.later(timedelta(minutes=5))


async def test_a_lost_answer_from_okdesk_still_makes_one_comment(service: Service) -> None:
    service.helpdesk.rewrite_html = True
    service.helpdesk.lose("comment_issue", TransientError("Okdesk comment: HTTP 504"))
    await _answer_why(service, "Мастер опоздал\nи не извинился")

    (comment,) = service.helpdesk.comments
    survey = service.survey()
    assert comment.author_type == "contact" and comment.author_id == CONTACT_ID
    assert comment.content.startswith("<p>Мастер опоздал<br />и не извинился<br />")
    assert MARK.format(survey.id) in comment.content
    assert survey.followup_posted_at is not None
    posts = [j for j in service.jobs() if j.kind == JobKind.POST_FOLLOWUP]
    assert [j.state for j in posts] == [JobState.DONE]


async def test_a_refused_contact_comment_is_written_by_the_employee_quoting_the_contact(
    service: Service,
) -> None:
    configure(service, okdesk_comment_author_id="7", followup_comment_public="true")
    service.helpdesk.contact_comments_refused = True
    service.helpdesk.names[CONTACT_ID] = "Иван <Петров>"
    await _answer_why(service, "Долго <ждали>")

    (comment,) = service.helpdesk.comments
    assert (comment.issue_id, comment.author_id, comment.author_type) == (ISSUE_ID, 7, "employee")
    assert comment.public is False
    assert comment.content.startswith("Комментарий клиента Иван &lt;Петров&gt; к оценке")
    assert "<blockquote>Долго &lt;ждали&gt;</blockquote>" in comment.content
    assert service.survey().followup_posted_at is not None


async def test_a_refused_contact_comment_after_a_lost_answer_is_still_one_comment(
    service: Service,
) -> None:
    service.helpdesk.contact_comments_refused = True
    service.helpdesk.rewrite_html = True
    service.helpdesk.lose("comment_issue", TransientError("Okdesk comment: HTTP 504"))
    await _answer_why(service, "Плохо")

    (comment,) = service.helpdesk.comments
    # No OKDESK_COMMENT_AUTHOR_ID: the ticket's engineer writes it, as the automatic comment.
    assert (comment.author_id, comment.author_type) == (52, "employee")
    assert "клиента 11771" in comment.content


async def test_the_comment_is_written_as_the_contact_okdesk_showed_not_the_webhooks(
    service: Service,
) -> None:
    """Issue 22, point 10: the closure webhook named another contact than the ticket shows;
    the person invited was Okdesk's contact, and the comment is theirs."""
    service.close(contact_id=CONTACT_ID + 1000)
    await service.drain()
    assert service.click(2) == "rated"
    await service.drain()
    assert service.type_reply("Мастер опоздал", message_id=1) == "followed_up"
    await service.drain()
    for _ in range(3):
        await service.later(timedelta(minutes=5))

    (comment,) = service.helpdesk.comments
    assert (comment.author_id, comment.author_type) == (CONTACT_ID, "contact")
    assert service.survey().contact_id == CONTACT_ID
