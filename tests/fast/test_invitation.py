"""A closure invites its requester once, with five buttons; a reopening takes them away."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.users import BitrixUser
from bridge.rules.decisions import NO_CONTACT
from storage.tables import SurveyState
from tests.fast.harness import (
    EMAIL,
    ENGINEER,
    ISSUE_ID,
    TITLE,
    USER_ID,
    Service,
    closed_ticket,
)

pytestmark = pytest.mark.anyio


async def test_a_closure_invites_the_requester_with_five_buttons(service: Service) -> None:
    assert service.close() == "accepted"
    await service.drain()
    (invitation,) = service.chat()
    assert f"№{ISSUE_ID}" in invitation.message.text
    assert TITLE in invitation.message.text and ENGINEER in invitation.message.text
    survey = service.survey()
    assert [b["TEXT"] for b in invitation.buttons] == ["1", "2", "3", "4", "5"]
    assert [b["COMMAND_PARAMS"] for b in invitation.buttons] == [
        f"{survey.token}:{n}" for n in range(1, 6)
    ]
    assert {b["COMMAND"] for b in invitation.buttons} == {"rate"}
    assert survey.state == SurveyState.AWAITING
    assert survey.bitrix_user_id == USER_ID
    assert survey.message_id in service.messenger.chat


async def test_the_invitation_is_in_english_when_configured(service: Service) -> None:
    service.configure(language="en")
    service.close()
    await service.drain()
    (invitation,) = service.chat()
    assert invitation.message.text.startswith(f"[b]Ticket #{ISSUE_ID} is closed")
    assert f"Engineer: {ENGINEER}" in invitation.message.text


async def test_a_replayed_webhook_opens_no_second_survey(service: Service) -> None:
    assert [service.close(), service.close()] == ["accepted", "duplicate"]
    await service.drain()
    assert service.close() == "duplicate"
    await service.drain()
    assert len(service.surveys()) == 1
    assert len(service.chat()) == 1


async def test_a_reopening_cancels_and_removes_the_buttons(service: Service) -> None:
    service.close()
    await service.drain()
    assert service.reopen() == "cancelled"
    await service.drain()
    (invitation,) = service.chat()
    assert invitation.buttons == [] and invitation.edits == 1
    assert "снова открыта" in invitation.message.text
    assert service.survey().state == SurveyState.CANCELLED


async def test_reopened_before_the_invitation_asks_nobody(service: Service) -> None:
    service.close()
    service.reopen()
    await service.drain()
    assert service.survey().state == SurveyState.CANCELLED
    assert service.messenger.chat == {}


async def test_closed_again_after_a_reopening_opens_a_new_survey(service: Service) -> None:
    service.close()
    await service.drain()
    service.reopen()
    service.helpdesk.set_status(ISSUE_ID, "closed")
    assert service.close() == "accepted"
    await service.drain()
    assert [s.state for s in service.surveys()] == [SurveyState.CANCELLED, SurveyState.AWAITING]
    first, second = service.chat()
    assert first.buttons == [] and len(second.buttons) == 5


async def test_a_ticket_the_helpdesk_no_longer_shows_done_is_not_surveyed(
    service: Service,
) -> None:
    service.close()
    service.helpdesk.set_status(ISSUE_ID, "opened")
    await service.drain()
    survey = service.survey()
    assert survey.state == SurveyState.CANCELLED
    assert "not done" in (survey.reason or "")
    assert service.messenger.chat == {}


async def test_a_ticket_without_contact_is_undeliverable(service: Service) -> None:
    service.helpdesk.tickets[ISSUE_ID] = closed_ticket(contact_id=None)
    service.close(contact_id=None)
    await service.drain()
    survey = service.survey()
    assert (survey.state, survey.reason) == (SurveyState.UNDELIVERABLE, NO_CONTACT)
    assert service.messenger.chat == {}


async def test_a_contact_without_email_is_undeliverable(service: Service) -> None:
    service.helpdesk.emails.clear()
    service.close()
    await service.drain()
    survey = service.survey()
    assert survey.state == SurveyState.UNDELIVERABLE
    assert "no e-mail" in (survey.reason or "")
    assert service.messenger.chat == {}


async def test_no_bitrix_user_with_the_email_is_undeliverable(service: Service) -> None:
    service.messenger.users.clear()
    service.close()
    await service.drain()
    survey = service.survey()
    assert survey.state == SurveyState.UNDELIVERABLE
    assert "no active Bitrix24 user" in (survey.reason or "")
    assert service.messenger.chat == {}


async def test_two_users_with_the_email_is_undeliverable(service: Service) -> None:
    service.messenger.users.append(BitrixUser(id=31, email=EMAIL, active=True))
    service.close()
    await service.drain()
    assert "2 Bitrix24 users" in (service.survey().reason or "")
    assert service.messenger.chat == {}


async def test_a_ticket_rated_by_our_survey_reopened_and_closed_again_is_asked_again(
    service: Service,
) -> None:
    """Okdesk still shows the rating our first survey wrote: that is no reason to stay silent
    (only a rating someone else gave before this closure is)."""
    service.close()
    await service.drain()
    service.click(5)
    await service.drain()
    assert service.rated() == ["good"]
    service.reopen()
    await service.drain()
    service.helpdesk.set_status(ISSUE_ID, "closed")
    assert service.close() == "accepted"
    await service.drain()
    latest = service.surveys()[-1]
    assert latest.state == SurveyState.AWAITING, latest.reason
    assert len(service.chat()) == 2


async def test_a_ticket_rated_in_okdesk_by_someone_else_is_not_asked(service: Service) -> None:
    service.close()
    await service.drain()
    service.click(5)
    await service.drain()
    service.reopen()
    await service.drain()
    service.helpdesk.set_status(ISSUE_ID, "closed")
    ticket = service.helpdesk.tickets[ISSUE_ID]
    service.helpdesk.tickets[ISSUE_ID] = replace(ticket, rate="bad")
    service.close()
    await service.drain()
    latest = service.surveys()[-1]
    assert latest.state == SurveyState.SKIPPED
    assert "already shows the ticket rated 'bad'" in (latest.reason or "")
