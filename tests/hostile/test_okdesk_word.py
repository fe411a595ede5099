"""Okdesk's word over the webhook's (issue 23, point 9), on SQLite and PostgreSQL: whoever holds
the webhook URL can say anything in a closure webhook, so who is asked, the engineer and the
title the bot writes, and whether a ticket is surveyed at all come from the ticket as Okdesk's
REST API shows it (okdesk.md §5), never from the webhook's JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bridge.rules.decisions import NO_CONTACT
from harness.app import running_app
from harness.constants import CONTACT_ID, ISSUE_ID
from harness.payloads import closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import Survey, SurveyState
from tests.databases import surveys

pytestmark = pytest.mark.anyio

FORGED_ENGINEER = "Служба безопасности: срочно смените пароль по ссылке evil.example"
FORGED_TITLE = "Срочно: ваш пароль истёк, войдите на evil.example"
FORGED_CONTACT_ID = 999_001


def _forged_webhook() -> dict[str, Any]:
    """The real closure webhook's shape, its people and title invented by whoever sends it."""
    payload = closed_webhook(title=FORGED_TITLE)
    employee = {"id": 1, "first_name": FORGED_ENGINEER, "last_name": "", "patronymic": ""}
    payload["issue"]["assignee"] = {"group": {"id": 1, "name": "Сервис"}, "employee": employee}
    payload["issue"]["client"]["contact"]["id"] = FORGED_CONTACT_ID
    return payload


async def _closed(vendors: Vendors, database_url: str, engine: Engine) -> Survey:
    """The forged closure webhook arrives; the survey once the worker has decided."""
    async with running_app(make_settings(database_url), vendors) as app:
        assert (await app.webhook(_forged_webhook())).json() == {"result": "accepted"}
        await eventually(lambda: _survey(engine).state != SurveyState.INVITING)
    return _survey(engine)


def _survey(engine: Engine) -> Survey:
    (survey,) = surveys(engine)
    return survey


def _contact_lookups(vendors: Vendors) -> list[str]:
    return [path for _, path in vendors.okdesk.requests if path.startswith("/api/v1/contacts")]


async def test_a_ticket_okdesk_shows_without_a_contact_invites_nobody_the_webhook_names(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    vendors.okdesk.issues[ISSUE_ID]["contact"] = None
    vendors.okdesk.contacts[FORGED_CONTACT_ID] = {"id": FORGED_CONTACT_ID, "email": "a@b.example"}

    survey = await _closed(vendors, database_url, engine)

    assert (survey.state, survey.reason) == (SurveyState.UNDELIVERABLE, NO_CONTACT)
    assert _contact_lookups(vendors) == [] and vendors.calls("imbot.message.add") == []


async def test_the_invitation_names_the_engineer_and_title_okdesk_shows(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    survey = await _closed(vendors, database_url, engine)

    (sent,) = vendors.calls("imbot.message.add")
    assert "Алексей Сергеевич Карпенко" in sent["MESSAGE"]
    assert "Касса не печатает чек" in sent["MESSAGE"]
    assert "evil.example" not in sent["MESSAGE"] and "Служба" not in sent["MESSAGE"]
    # What the survey keeps (reports, reminders, the comments' authors) is Okdesk's too.
    assert (survey.engineer, survey.engineer_id) == ("Алексей Сергеевич Карпенко", 52)
    assert (survey.issue_title, survey.contact_id) == ("Касса не печатает чек", CONTACT_ID)


async def test_a_ticket_okdesk_shows_unassigned_is_invited_naming_no_engineer(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    del vendors.okdesk.issues[ISSUE_ID]["assignee"]

    survey = await _closed(vendors, database_url, engine)

    (sent,) = vendors.calls("imbot.message.add")
    assert "Служба" not in sent["MESSAGE"] and "Исполнитель" not in sent["MESSAGE"]
    assert (survey.engineer, survey.engineer_id) == (None, None)


async def test_a_ticket_okdesk_shows_rated_is_not_asked_and_keeps_its_rating(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    """The attack: a ticket rated `good` long ago, a forged closure, a person who clicks 1."""
    vendors.okdesk.issues[ISSUE_ID]["rate"] = {"id": 3, "value": "good"}

    survey = await _closed(vendors, database_url, engine)

    assert survey.state == SurveyState.SKIPPED
    assert survey.reason == "not asked: Okdesk already shows the ticket rated 'good'"
    assert survey.deadline_at is None and vendors.calls("imbot.message.add") == []
    assert vendors.okdesk.rate_posts == []
    assert vendors.okdesk.issues[ISSUE_ID]["rate"] == {"id": 3, "value": "good"}


async def test_a_ticket_okdesk_shows_completed_long_ago_is_not_asked(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    old = rest_issue(ISSUE_ID, completed_at=datetime(2023, 5, 4, 10, 0, tzinfo=UTC))
    vendors.okdesk.issues[ISSUE_ID] = old

    survey = await _closed(vendors, database_url, engine)

    assert survey.state == SurveyState.SKIPPED and survey.deadline_at is None
    assert survey.reason == (
        "not asked: Okdesk shows the ticket completed 2023-05-04 10:00 UTC,"
        " before RECONCILE_MAX_AGE"
    )
    assert vendors.calls("imbot.message.add") == [] and vendors.okdesk.rate_posts == []
