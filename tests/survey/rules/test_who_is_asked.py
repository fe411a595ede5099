"""Who is asked (issue 10, point 4): the skip rules and the sample decide at closure, the
cooldown once the person is known; a skipped closure is recorded with its reason and gets no
invitation and no default rating. And how the rules meet a replay and a reopening."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.users import BitrixUser
from bridge.okdesk.data import TicketContext
from bridge.rules import workflow
from bridge.survey.asking import COOLDOWN_REASON, sampled_in
from bridge.survey.closures import StatusChange, record_status_change
from harness.app import running_app
from harness.payloads import closed_webhook, rest_issue
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.db import transaction
from storage.survey import surveys
from storage.tables import JobKind, Survey, SurveyState, utcnow
from tests.databases import surveys as db_surveys
from tests.fast.harness import (
    CONTACT_ID,
    ENGINEER,
    ISSUE_ID,
    TITLE,
    Service,
    closed_ticket,
    fast_settings,
)

pytestmark = pytest.mark.anyio

DAY = timedelta(days=1)
CLOSED_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ROMASHKA = TicketContext(
    group="Сервис", company_id=2058, company="ООО Ромашка", type_code="service",
    priority_code="normal", engineer_id=52,
)  # fmt: skip


def _close(
    service: Service,
    issue_id: int = ISSUE_ID,
    *,
    context: TicketContext = ROMASHKA,
    closed_at: datetime | None = CLOSED_AT,
) -> str:
    """Okdesk's webhook says the ticket closed (with what the real webhook names)."""
    if issue_id not in service.helpdesk.tickets:
        ticket = closed_ticket(issue_id)
        service.helpdesk.tickets[issue_id] = replace(ticket, completed_at=service.clock.now())
    service.helpdesk.set_status(issue_id, "closed")
    change = StatusChange(issue_id, "closed", CONTACT_ID, TITLE, ENGINEER, context, closed_at)
    return record_status_change(service.engine, service.settings, change, service.clock.now()).value


def _of(service: Service, issue_id: int) -> list[Survey]:
    return [s for s in service.surveys() if s.issue_id == issue_id]


def _invites(service: Service) -> int:
    return [job.kind for job in service.jobs()].count(JobKind.INVITE)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"skip_company_ids": "17, 2058"}, "company 2058 is in SKIP_COMPANY_IDS"),
        ({"skip_type_codes": "service"}, "type 'service' is in SKIP_TYPE_CODES"),
        ({"skip_priority_codes": "low,normal"}, "priority 'normal' is in SKIP_PRIORITY_CODES"),
        ({"survey_sample_percent": 0}, "outside the SURVEY_SAMPLE_PERCENT=0"),
    ],
)
async def test_a_skipped_closure_is_recorded_with_its_reason_and_nobody_is_asked(
    service: Service, rule: dict[str, Any], reason: str
) -> None:
    service.configure(**rule)
    assert _close(service) == "accepted"
    await service.drain()
    await service.later(2 * DAY)

    (survey,) = service.surveys()
    assert survey.state == SurveyState.SKIPPED and reason in (survey.reason or "")
    assert (survey.score, survey.deadline_at, survey.remind_at) == (None, None, None)
    assert survey.company_id == 2058 and survey.priority_code == "normal"
    assert service.chat() == [] and service.rated() == [] and _invites(service) == 0
    assert service.helpdesk.comments == []


async def test_a_closure_matching_no_rule_is_surveyed(service: Service) -> None:
    service.configure(skip_company_ids="17", skip_type_codes="inner", skip_priority_codes="low")
    _close(service)
    await service.drain()
    assert service.survey().state == SurveyState.AWAITING and len(service.chat()) == 1


async def test_a_replay_of_a_sampled_out_webhook_decides_the_same(service: Service) -> None:
    service.configure(survey_sample_percent=0)
    _close(service)
    assert _close(service) == "duplicate"
    await service.drain()
    (survey,) = service.surveys()
    assert survey.state == SurveyState.SKIPPED and _invites(service) == 0


async def test_a_replay_after_a_reopening_is_drawn_the_same_a_new_closure_anew(
    service: Service,
) -> None:
    # Which of these ids and closure times the 50 % sample takes is fixed by the hash.
    service.configure(survey_sample_percent=50)
    out = next(i for i in range(1, 100) if not sampled_in(i, CLOSED_AT, 50))
    later = next(
        CLOSED_AT + n * DAY for n in range(1, 100) if sampled_in(out, CLOSED_AT + n * DAY, 50)
    )
    _close(service, out)
    service.reopen(out)
    _close(service, out)  # the old closure's webhook, delivered again after the reopening
    service.reopen(out)
    _close(service, out, closed_at=later)
    await service.drain()

    states = [s.state for s in _of(service, out)]
    assert states == [SurveyState.SKIPPED, SurveyState.SKIPPED, SurveyState.AWAITING]


def test_the_sample_takes_about_its_share_and_always_the_same_closures() -> None:
    picked = [sampled_in(issue_id, CLOSED_AT, 30) for issue_id in range(1, 2001)]
    assert 500 <= sum(picked) <= 700
    assert picked == [sampled_in(issue_id, CLOSED_AT, 30) for issue_id in range(1, 2001)]
    assert all(sampled_in(i, None, 100) for i in range(50))
    assert not any(sampled_in(i, CLOSED_AT, 0) for i in range(50))


async def test_a_skipped_ticket_reopened_and_closed_again_is_judged_again(
    service: Service,
) -> None:
    service.configure(skip_priority_codes="low")
    low = TicketContext(company_id=2058, priority_code="low")
    _close(service, context=low)
    assert service.reopen() == "released"
    _close(service, context=ROMASHKA, closed_at=CLOSED_AT + DAY)
    await service.drain()
    assert [s.state for s in service.surveys()] == [SurveyState.SKIPPED, SurveyState.AWAITING]


async def test_a_person_asked_within_the_cooldown_is_not_asked_again(service: Service) -> None:
    service.configure(survey_cooldown="7d")
    _close(service, 1)
    await service.drain()
    service.clock.advance(3 * DAY)
    _close(service, 2)
    await service.drain()
    await service.later(2 * DAY)

    first, second = service.surveys()
    assert first.state == SurveyState.DEFAULTED
    assert second.state == SurveyState.SKIPPED and second.reason == COOLDOWN_REASON
    assert (second.score, second.deadline_at, second.message_id) == (None, None, None)
    assert len(service.chat()) == 1
    assert [issue for issue, _ in service.helpdesk.rated] == [1]


async def test_after_the_cooldown_the_person_is_asked_again(service: Service) -> None:
    service.configure(survey_cooldown="7d")
    _close(service, 1)
    await service.drain()
    service.clock.advance(8 * DAY)
    _close(service, 2)
    await service.drain()
    assert [s.state for s in _of(service, 2)] == [SurveyState.AWAITING]


async def test_two_closures_of_one_person_at_once_ask_once(service: Service) -> None:
    service.configure(survey_cooldown="1d")
    _close(service, 1)
    _close(service, 2)
    await service.drain()
    assert [s.state for s in service.surveys()] == [SurveyState.AWAITING, SurveyState.SKIPPED]
    assert len(service.chat()) == 1


async def test_the_cooldown_is_per_person(service: Service) -> None:
    service.configure(survey_cooldown="7d")
    service.messenger.users.append(
        BitrixUser(id=28, email="a.sidorova@romashka.example", active=True)
    )
    service.helpdesk.emails[CONTACT_ID + 1] = "a.sidorova@romashka.example"
    _close(service, 1)
    service.helpdesk.tickets[2] = closed_ticket(2, contact_id=CONTACT_ID + 1)
    _close(service, 2)
    await service.drain()
    assert [s.state for s in service.surveys()] == [SurveyState.AWAITING, SurveyState.AWAITING]


async def test_a_survey_cancelled_by_a_reopening_does_not_start_the_cooldown(
    service: Service,
) -> None:
    service.configure(survey_cooldown="7d")
    _close(service)
    await service.drain()
    service.reopen()
    await service.drain()
    _close(service, closed_at=CLOSED_AT + DAY)
    await service.drain()
    assert [s.state for s in service.surveys()] == [SurveyState.CANCELLED, SurveyState.AWAITING]


async def test_the_administrators_resend_is_never_held_back(service: Service) -> None:
    service.configure(survey_cooldown="7d")
    _close(service, 1)
    await service.drain()
    _close(service, 2)
    await service.drain()
    first = _of(service, 1)[0]
    assert first.id is not None
    with transaction(service.engine) as session:
        now = service.clock.now()
        assert surveys.apply_change(session, workflow.resent(first.id), now=now)
    await service.drain()
    assert _of(service, 1)[0].state == SurveyState.AWAITING and len(service.chat()) == 2


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, (None, 100, [], [], [])),
        (
            {
                "survey_cooldown": "14d",
                "personal_data_retention": "30d",
                "survey_sample_percent": "25",
                "skip_company_ids": " 1, 2 ",
                "skip_type_codes": "inner",
                "skip_priority_codes": "off",
            },
            (timedelta(days=14), 25, [1, 2], ["inner"], []),
        ),
        ({"survey_cooldown": "off", "skip_company_ids": ""}, (None, 100, [], [], [])),
    ],
)
def test_who_is_asked_settings_read_lists_durations_and_off(
    values: dict[str, str], expected: tuple[Any, ...]
) -> None:
    made = fast_settings("sqlite://", **values)
    assert (
        made.survey_cooldown,
        made.survey_sample_percent,
        made.skip_company_ids,
        made.skip_type_codes,
        made.skip_priority_codes,
    ) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"survey_cooldown": "60d"}, "SURVEY_COOLDOWN must not exceed PERSONAL_DATA_RETENTION"),
        ({"survey_sample_percent": "101"}, "less than or equal to 100"),
        ({"skip_company_ids": "Ромашка"}, "skip_company_ids"),
        ({"survey_cooldown": "0"}, "longer than zero"),
    ],
)
def test_bad_who_is_asked_settings_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fast_settings("sqlite://", **values)


async def test_reconciliation_applies_the_same_rules_to_a_missed_closure(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%S.000+00:00")
    del vendors.okdesk.issues[ISSUE_ID]  # only the two missed closures are listed
    for issue_id, company in ((601, 2058), (602, 17)):
        issue = dict(rest_issue(issue_id), completed_at=stamp, company_id=company)
        vendors.okdesk.issues[issue_id] = dict(issue, priority={"code": "normal", "name": "Важная"})
    settings = make_settings(database_url, reconcile_interval="1h", skip_company_ids="2058")
    async with running_app(settings, vendors):
        await eventually(lambda: len(db_surveys(engine)) == 2)
        await eventually(lambda: db_surveys(engine)[-1].state != SurveyState.INVITING)
    by_issue = {s.issue_id: s for s in db_surveys(engine)}
    assert by_issue[601].state == SurveyState.SKIPPED and by_issue[601].company_id == 2058
    assert by_issue[602].state == SurveyState.AWAITING
    assert len(vendors.bitrix.messages) == 1


async def test_a_sampled_out_webhook_replayed_over_the_wire_asks_nobody_and_rates_nothing(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, survey_sample_percent=0, rating_timeout="1s")
    async with running_app(settings, vendors) as app:
        first = await app.webhook(closed_webhook())
        again = await app.webhook(closed_webhook())
        await asyncio.sleep(1.5)  # past the timeout: a skipped survey has none
    assert (first.json(), again.json()) == ({"result": "accepted"}, {"result": "duplicate"})
    (survey,) = db_surveys(engine)
    assert survey.state == SurveyState.SKIPPED and "SURVEY_SAMPLE_PERCENT=0" in (
        survey.reason or ""
    )
    assert vendors.bitrix.messages == {} and vendors.okdesk.rate_posts == []
    assert vendors.okdesk.comments == {}
