"""Promises of a survey's lifecycle (issue 22, points 8 and 10, issue 23 point 11 "Purge"):
the purge comes again after a resend and takes vendor error texts with it, REMINDER_AFTER=off
stops reminders already scheduled, a reminder lifts a portal block, and an answer recorded by
a settle retried after a database error is counted once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from bridge.config import metrics
from bridge.outside.portals import ensure_default
from bridge.rules import workflow
from bridge.survey import reminders
from outbound.errors import RejectedError
from storage import portals, status
from storage.db import transaction
from storage.portals import DEFAULT_NUMBER
from storage.purge import purge_personal_data
from storage.survey import surveys
from tests.fast.harness import CONTACT_ID, USER_ID, Service

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EMAIL = "i.petrova@romashka.example"


def _purge(service: Service) -> None:
    with transaction(service.engine) as session:
        purge_personal_data(session, finished_before=service.clock.now() - 30 * DAY)


async def test_a_survey_resent_after_the_purge_is_purged_again(service: Service) -> None:
    service.configure(default_rating="off")
    email = service.helpdesk.emails.pop(CONTACT_ID)
    service.close()
    await service.drain()
    service.clock.advance(31 * DAY)
    _purge(service)
    assert service.survey().personal_data_purged

    service.helpdesk.emails[CONTACT_ID] = email
    with transaction(service.engine) as session:
        resent = workflow.resent(service.survey().id or 0)
        assert surveys.apply_change(session, resent, now=service.clock.now())
    await service.drain()
    service.type_reply("5, спасибо, всё быстро")
    await service.drain()
    gathered = service.survey()
    assert gathered.bitrix_user_id == USER_ID and gathered.reply_text is not None
    assert gathered.finished_at is not None and not gathered.personal_data_purged

    service.clock.advance(31 * DAY)
    _purge(service)
    purged = service.survey()
    assert purged.personal_data_purged
    assert (purged.bitrix_user_id, purged.reply_text, purged.rated_by) == (None, None, None)


async def test_a_vendor_error_quoting_an_e_mail_is_purged_with_the_survey(
    service: Service,
) -> None:
    service.close()
    await service.drain()
    service.messenger.fail("edit", RejectedError(f"imbot.message.update: no user {EMAIL}"))
    service.click(4)
    await service.drain()
    assert any(EMAIL in (job.last_error or "") for job in service.jobs())

    service.clock.advance(31 * DAY)
    _purge(service)
    assert service.survey().personal_data_purged
    assert not any("@" in (job.last_error or "") for job in service.jobs())


async def test_reminders_switched_off_stop_those_already_scheduled(service: Service) -> None:
    service.configure(reminder_after="12h")
    service.close()
    await service.drain()
    assert service.survey().remind_at is not None
    service.configure(reminder_after="off")
    await service.later(13 * HOUR)
    assert len(service.chat()) == 1 and service.survey().remind_at is None


async def test_reminders_switched_off_stop_a_reminder_already_queued(service: Service) -> None:
    service.configure(reminder_after="12h")
    service.close()
    await service.drain()
    service.clock.advance(12 * HOUR)
    reminders.sweep(service.engine, service.settings, service.clock.now())
    service.configure(reminder_after="off")
    await service.drain()
    assert len(service.chat()) == 1


async def test_a_successful_reminder_lifts_a_portal_block(service: Service) -> None:
    service.configure(reminder_after="12h")
    service.close()
    await service.drain()
    service.clock.advance(12 * HOUR)
    ensure_default(service.engine, service.settings, service.clock.now())
    with transaction(service.engine) as session:
        now = service.clock.now()  # a probe is due now
        assert status.blocked(session, number=DEFAULT_NUMBER, probe_at=now, now=now)
    await service.drain()
    assert len(service.chat()) == 2  # the reminder went as the probe
    with transaction(service.engine) as session:
        home = portals.portal_numbered(session, number=DEFAULT_NUMBER)
        assert home is not None and home.blocked_until is None and home.state == "active"


@pytest.fixture
def first_rating_commit_refused(service: Service) -> Iterator[None]:
    """The database refuses the commit of the first transaction that queues a rating."""
    armed = {"rating_queued": False, "refused": False}

    def watch(_conn: object, _cursor: object, statement: str, params: object, *_: object) -> None:
        if "INSERT INTO job" in statement and "send_rating" in str(params):
            armed["rating_queued"] = True

    def refuse(_conn: object) -> None:
        if armed["rating_queued"] and not armed["refused"]:
            armed["refused"] = True
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    event.listen(service.engine, "before_cursor_execute", watch)
    event.listen(service.engine, "commit", refuse)
    yield
    event.remove(service.engine, "commit", refuse)
    event.remove(service.engine, "before_cursor_execute", watch)
    assert armed["refused"], "the fault was never injected"


def _answers(outcome: str) -> float:
    value = metrics.ANSWERS.labels(source="text", outcome=outcome)._value.get()
    return float(value)


async def test_a_settle_retried_after_a_database_error_counts_the_answer_once(
    service: Service, first_rating_commit_refused: None
) -> None:
    service.close()
    await service.drain()
    before = _answers("rated")
    assert service.type_reply("5") == "verifying"
    await service.drain()
    assert service.survey().score == 5
    assert _answers("rated") - before == 1
