"""Invitations, a batch at a time: read each ticket as Okdesk shows it, find who asked for it
in Bitrix24, record them, then post the invitations (one outcome per survey).

E-mails live only in memory until the Bitrix24 user is found: never stored or logged. A test
invitation (`bridge.admin send-test`) reads nothing from Okdesk: the administrator's command
found its Bitrix24 user by e-mail and stored only the user's id, as for any survey.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlmodel import Session

from bot.messenger import ChatMessage
from bot.portals.ids import portal_of
from bot.portals.messengers import messenger_of
from bot.texts import messages
from bot.users import BitrixUser
from bridge.config import metrics
from bridge.config.settings import Settings
from bridge.okdesk.data import Ticket
from bridge.outside.in_flight import in_line
from bridge.outside.vendors import Vendors
from bridge.rules import workflow
from bridge.rules.decisions import NO_CONTACT, why_not_asked
from bridge.survey.jobs import Effect, Outcome, applying, nothing
from bridge.survey.replies.answers import language_of
from outbound.errors import DeliveryError, TransientError
from storage import status
from storage.survey import many, surveys
from storage.survey import messages as survey_messages
from storage.tables import Survey, SurveyState

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Invitations:
    """A batch of invitations between finding the people and sending them the message."""

    surveys: dict[int, Survey]
    outcomes: list[Outcome]
    # Survey id → the Bitrix24 user who will be asked (recorded before sending).
    recipients: dict[int, int] = field(default_factory=dict)
    # Batch index → the ticket as Okdesk showed it (None: a test invitation).
    tickets: dict[int, Ticket | None] = field(default_factory=dict)
    # Batch index → the portal the person is looked up in (none: the settings' own).
    portals: dict[int, int] = field(default_factory=dict)


async def find_recipients(
    claimed: Sequence[Survey | None],
    vendors: Vendors,
    settings: Settings,
    written: dict[int, str] | None = None,
    portals: Mapping[int, int | str] | None = None,
) -> Invitations:
    """Read each ticket as Okdesk shows it now, then find who to ask (one outcome per survey).

    A ticket no longer done, or not in Okdesk, is asked nothing. `portals`: survey id → the
    portal its people are looked up in by e-mail (none given: the settings' own), or why none.
    """
    batch = Invitations(
        surveys={
            i: s for i, s in enumerate(claimed) if s is not None and s.state == SurveyState.INVITING
        },
        outcomes=[nothing] * len(claimed),
    )
    _route(batch, portals or {})
    ours = written or {}
    asking = [
        _requester(s, vendors, settings, ours.get(s.issue_id)) for s in batch.surveys.values()
    ]
    # All at once: the process-wide cap on Okdesk requests in flight paces them, an older
    # batch's before this one's.
    with in_line(time.monotonic()):
        looked_up = await asyncio.gather(*asking)
        await _find_all(batch, looked_up, vendors)
    return batch


async def _find_all(
    batch: Invitations, looked_up: list[Requester | Outcome], vendors: Vendors
) -> None:
    """Each survey's recipient: known already, or looked up by e-mail in its portal."""
    emails: dict[int, dict[str, str]] = {}
    for (i, survey), found in zip(list(batch.surveys.items()), looked_up, strict=True):
        assert survey.id is not None
        if isinstance(found, Requester):
            batch.tickets[i] = found.ticket
            if survey.bitrix_user_id is not None:
                batch.recipients[survey.id] = survey.bitrix_user_id
            else:
                emails.setdefault(batch.portals.get(i, 0), {})[str(i)] = found.email
            continue
        batch.outcomes[i] = found
        del batch.surveys[i]
    # Each portal's people at once: one portal's limit never delays another's lookups.
    await asyncio.gather(*(_find_users(batch, some, vendors, p) for p, some in emails.items()))


def _route(batch: Invitations, portals: Mapping[int, int | str]) -> None:
    """Each survey's portal; a survey whose company has none is undeliverable, saying why."""
    for i, survey in list(batch.surveys.items()):
        assert survey.id is not None
        portal = portals.get(survey.id, 0)
        if isinstance(portal, str) and survey.bitrix_user_id is None and not survey.is_test:
            batch.outcomes[i] = _undeliverable(survey, portal)
            del batch.surveys[i]
        elif isinstance(portal, int):
            batch.portals[i] = portal


async def _find_users(
    batch: Invitations, emails: dict[str, str], vendors: Vendors, portal: int
) -> None:
    try:
        people = await messenger_of(vendors.messenger, portal)
        found = await people.find_users_by_emails(emails)
    except DeliveryError as exc:
        found = dict.fromkeys(emails, exc)
    for key, users in found.items():
        i = int(key)
        survey = batch.surveys[i]
        assert survey.id is not None
        if isinstance(users, DeliveryError):
            batch.outcomes[i] = users
        elif len(users) == 1:
            batch.recipients[survey.id] = users[0].id
            continue
        else:
            batch.outcomes[i] = _undeliverable(survey, _nobody(users), batch.tickets.get(i))
        del batch.surveys[i]


async def send_invitations(batch: Invitations, vendors: Vendors) -> list[Outcome]:
    """Post the invitations of a batch whose recipients are recorded."""
    invitations = {}
    for i, survey in batch.surveys.items():
        assert survey.id is not None
        user_id = batch.recipients[survey.id]
        invitations[str(i)] = (str(user_id), _invitation(survey, batch.tickets.get(i)))
    for key, sent in (await vendors.messenger.send_many(invitations)).items():
        i = int(key)
        survey = batch.surveys[i]
        assert survey.id is not None
        batch.outcomes[i] = (
            sent
            if isinstance(sent, DeliveryError)
            else _invited(survey, batch.recipients[survey.id], sent, batch.tickets.get(i))
        )
    return batch.outcomes


@dataclass(frozen=True)
class Requester:
    """Who asked for a ticket, and the ticket, as Okdesk shows it now (None: a test)."""

    email: str
    ticket: Ticket | None


async def _requester(
    survey: Survey, vendors: Vendors, settings: Settings, ours: str | None
) -> Requester | Outcome:
    """The ticket's requester and the ticket, or why nobody will be asked (`ours`: the rating
    our earlier survey of the ticket left in Okdesk).

    Okdesk's word, never the webhook's: the contact, title and engineer are the ticket's.
    E-mails live only in memory until the Bitrix24 user is found: never stored or logged.
    """
    if survey.is_test:
        # The administrator's test: `send-test` found its user; Okdesk is not asked.
        if survey.bitrix_user_id is None:
            return _undeliverable(survey, "the test invitation has no recipient")
        return Requester("", None)
    try:
        ticket = await vendors.helpdesk.ticket(survey.issue_id)
        if ticket is None:
            return _not_surveyed(survey, "the ticket is not in Okdesk")
        if ticket.status not in settings.done_statuses:
            return _not_surveyed(survey, f"the ticket is {ticket.status!r} in Okdesk, not done")
        not_asked = why_not_asked(ticket, survey.created_at, settings.reconcile_max_age, ours)
        if not_asked is not None:
            return _skipped(survey, not_asked)
        if survey.bitrix_user_id is not None:
            return Requester("", ticket)
        if ticket.contact_id is None:
            return _undeliverable(survey, NO_CONTACT, ticket)
        email = await vendors.helpdesk.contact_email(ticket.contact_id)
    except DeliveryError as exc:
        return exc
    except Exception as exc:
        # Odd vendor data fails this invitation only, never its neighbours in the batch.
        log.error("invite.lookup_crashed survey_id=%s error=%s", survey.id, type(exc).__name__)
        return TransientError(f"unexpected {type(exc).__name__} reading the ticket")
    if email is None:
        return _undeliverable(survey, "the contact has no e-mail address in Okdesk", ticket)
    return Requester(email, ticket)


def _nobody(users: list[BitrixUser]) -> str:
    if not users:
        return "no active Bitrix24 user has the contact's e-mail address"
    return f"{len(users)} Bitrix24 users have the contact's e-mail address"


def _invitation(survey: Survey, ticket: Ticket | None) -> ChatMessage:
    language = language_of(survey)
    if survey.is_test:
        return ChatMessage(
            messages.text("test_invitation", language), messages.rating_keyboard(survey.token)
        )
    # The title and the engineer as Okdesk shows them, never as the webhook said (issue 23.9).
    title, engineer = (ticket.title, ticket.engineer) if ticket else (None, None)
    text = messages.invitation(survey.issue_id, title, engineer, language)
    return ChatMessage(text, messages.rating_keyboard(survey.token))


def _invited(survey: Survey, user_id: int, message_id: int, ticket: Ticket | None) -> Invited:
    assert survey.id is not None
    survey_id = survey.id
    log.info("survey.invited survey_id=%s issue_id=%s", survey_id, survey.issue_id)
    metrics.invitation_sent()
    return Invited(
        survey_id,
        user_id,
        message_id,
        sent=workflow.invited(survey_id, user_id=user_id, message_id=message_id, shown=ticket),
        late=workflow.invited_too_late(
            survey_id, user_id=user_id, message_id=message_id, shown=ticket
        ),
    )


@dataclass(frozen=True)
class Invited:
    """The effect of an invitation posted: recorded alone (an `Effect`), or with the others of
    its batch (`record_all`: one statement of each kind for all, where one each an invitation
    was a round trip each on PostgreSQL)."""

    survey_id: int
    user_id: int
    message_id: int
    sent: workflow.Change
    # Reopened or timed out while we were sending: take the buttons away again.
    late: workflow.Change

    def __call__(self, session: Session, now: datetime) -> None:
        Invited.record_all(session, now, [self])

    @staticmethod
    def record_all(session: Session, now: datetime, invited: Sequence[Invited]) -> None:
        """Record these invitations: the bot could post, so it exists again (after
        ONIMBOTDELETE and a new registration); each message carries its survey's buttons."""
        for portal in sorted({portal_of(each.user_id) for each in invited}):
            status.bot_back(session, number=portal, now=now)
        messages_of = {each.survey_id: each.message_id for each in invited}
        survey_messages.remember_each(session, messages_of, now=now)
        applied = many.apply_changes(session, [each.sent for each in invited], now=now)
        for each in invited:
            if each.survey_id not in applied:
                surveys.apply_change(session, each.late, now=now)


def _not_surveyed(survey: Survey, reason: str) -> Effect:
    """Okdesk shows the ticket is not (or no longer) done: end the survey, ask nobody."""
    assert survey.id is not None
    survey_id = survey.id
    log.info("survey.not_surveyed survey_id=%s reason=%s", survey_id, reason)
    return applying(lambda now: workflow.not_surveyed(survey_id, reason=reason, now=now))


def _undeliverable(survey: Survey, reason: str, ticket: Ticket | None = None) -> Effect:
    assert survey.id is not None
    survey_id = survey.id
    log.info("survey.undeliverable survey_id=%s reason=%s", survey_id, reason)
    return applying(lambda _now: workflow.undeliverable(survey_id, reason=reason, shown=ticket))


def _skipped(survey: Survey, reason: str) -> Effect:
    """Okdesk shows the ticket rated, or completed long ago: ask nobody, no default rating."""
    assert survey.id is not None
    survey_id = survey.id
    log.info("survey.skipped survey_id=%s reason=%s", survey_id, reason)
    return applying(lambda now: workflow.skipped(survey_id, reason=reason, now=now))
