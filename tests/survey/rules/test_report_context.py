"""What the reports will need (issue 10, point 8): at closure the survey keeps the engineer,
their group, the company, the ticket type and priority from Okdesk's real webhook."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bridge.okdesk.data import TicketContext, read_ticket
from harness.app import running_app
from harness.payloads import closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from storage import purge
from storage.db import transaction
from storage.tables import Survey, utcnow
from tests.databases import surveys

pytestmark = pytest.mark.anyio


def _context(survey: Survey) -> tuple[object, ...]:
    return (
        survey.engineer,
        survey.engineer_id,
        survey.engineer_group,
        survey.company_id,
        survey.company_name,
        survey.type_code,
        survey.priority_code,
    )


async def test_a_closure_keeps_who_worked_on_it_and_what_it_was(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, vendors) as app:
        response = await app.webhook(closed_webhook())
    assert response.json() == {"result": "accepted"}
    assert _context(surveys(engine)[-1]) == (
        "Алексей Сергеевич Карпенко",
        52,
        "Сервис",
        2058,
        "ООО Ромашка",
        "service",
        "normal",
    )


async def test_a_closure_without_them_is_kept_all_the_same(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    payload = closed_webhook(type=None, priority=None, assignee={"group": None, "employee": None})
    payload["issue"]["client"]["company"] = None
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        response = await app.webhook(payload)
    assert response.json() == {"result": "accepted"}
    assert _context(surveys(engine)[-1]) == (None,) * 7


async def test_the_context_outlives_the_personal_data_purge(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    async with running_app(make_settings(database_url, worker_enabled=False), vendors) as app:
        await app.webhook(closed_webhook())
    with transaction(engine) as session:
        session.execute(Survey.__table__.update().values(finished_at=utcnow() - timedelta(days=60)))  # type: ignore[attr-defined]
        purge.purge_personal_data(session, finished_before=utcnow() - timedelta(days=30))
    kept = surveys(engine)[-1]
    assert kept.personal_data_purged and (kept.engineer, kept.engineer_id) == (None, None)
    assert _context(kept)[2:] == ("Сервис", 2058, "ООО Ромашка", "service", "normal")


def test_the_rest_ticket_names_company_type_priority_and_engineer_by_id() -> None:

    issue = dict(
        rest_issue(7),
        company_id=2058,
        type={"id": 1, "code": "service", "name": "Обслуживание"},
        priority={"code": "normal", "name": "Важная"},
        assignee={"id": 52, "name": "Карпенко Алексей"},
    )
    ticket = read_ticket(issue)
    assert ticket is not None and ticket.context == TicketContext(
        company_id=2058, type_code="service", priority_code="normal", engineer_id=52
    )
    unassigned = {key: value for key, value in rest_issue(7).items() if key != "assignee"}
    assert read_ticket(unassigned).context == TicketContext()  # type: ignore[union-attr]
