"""One reminder (issue 10, point 3): REMINDER_AFTER after the closure a person who has not
answered gets the buttons once more; never a second time, never after an answer, a reopening
or the timeout, and a click racing the reminder wins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bridge.config.settings import Settings
from bridge.survey import reminders
from harness.app import running_app
from harness.payloads import click_body, closed_webhook
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.db import transaction
from storage.survey import reminders as stored_reminders
from storage.tables import JobKind, SurveyState
from tests.databases import jobs as db_jobs
from tests.databases import surveys as db_surveys
from tests.fast.harness import Service, fast_settings

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)


def _reminding(service: Service, after: str = "12h") -> None:
    service.configure(reminder_after=after)


async def test_silence_gets_one_reminder_with_the_buttons_and_never_a_second(
    service: Service,
) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    await service.later(12 * HOUR - timedelta(seconds=1))
    assert len(service.chat()) == 1

    await service.later(timedelta(seconds=1))
    _, reminder = service.chat()
    assert "Напоминаем" in reminder.message.text and "№314599" in reminder.message.text
    assert [b["TEXT"] for b in reminder.buttons] == ["1", "2", "3", "4", "5"]
    survey = service.survey()
    assert survey.reminded_at is not None and survey.remind_at is None
    assert survey.message_id is not None and survey.state == SurveyState.AWAITING

    await service.later(11 * HOUR)
    assert len(service.chat()) == 2
    kinds = [job.kind for job in service.jobs()]
    assert kinds.count(JobKind.REMIND) == 1


async def test_the_timeout_takes_the_reminders_buttons_away(service: Service) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    await service.later(12 * HOUR)
    await service.later(12 * HOUR)
    _, reminder = service.chat()
    assert reminder.buttons == [] and "истекло" in reminder.message.text
    assert service.survey().state == SurveyState.DEFAULTED


async def test_a_click_on_the_reminder_rates_the_survey_and_thanks_on_it(
    service: Service,
) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    await service.later(12 * HOUR)
    assert service.click(4) == "rated"
    await service.drain()
    _, reminder = service.chat()
    assert reminder.buttons == [] and "4 из 5" in reminder.message.text
    assert service.rated() == ["good"]


async def test_no_reminder_after_an_answer(service: Service) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    service.click(2)
    await service.drain()
    await service.later(13 * HOUR)
    assert len(service.chat()) == 1
    assert JobKind.REMIND not in [job.kind for job in service.jobs()]
    assert service.survey().remind_at is None


async def test_no_reminder_after_a_reopening(service: Service) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    service.reopen()
    await service.drain()
    await service.later(13 * HOUR)
    assert len(service.chat()) == 1
    assert service.survey().state == SurveyState.CANCELLED


async def test_no_reminder_to_someone_who_could_not_be_asked(service: Service) -> None:
    _reminding(service)
    service.messenger.users.clear()
    service.close()
    await service.drain()
    await service.later(13 * HOUR)
    assert service.chat() == [] and service.survey().state == SurveyState.UNDELIVERABLE


async def test_reminders_switched_off_send_none(service: Service) -> None:
    service.close()
    await service.drain()
    await service.later(23 * HOUR)
    assert len(service.chat()) == 1 and service.survey().remind_at is None


async def test_by_default_the_reminder_comes_at_half_the_rating_timeout(service: Service) -> None:
    service.configure(reminder_after="", rating_timeout="4h")
    service.close()
    await service.drain()
    await service.later(2 * HOUR - timedelta(seconds=1))
    assert len(service.chat()) == 1
    await service.later(timedelta(seconds=1))
    assert len(service.chat()) == 2


async def test_two_sweeps_at_once_queue_one_reminder(service: Service) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    service.clock.advance(12 * HOUR)
    now = service.clock.now()
    survey = service.survey()
    assert survey.id is not None
    # The second sweep read the survey as due too, before the first one marked it.
    with transaction(service.engine) as session:
        assert stored_reminders.apply_once(session, reminders.reminded(survey.id, now=now), now=now)
        again = stored_reminders.apply_once(
            session, reminders.reminded(survey.id, now=now), now=now
        )
    assert again is False
    reminders.sweep(service.engine, service.settings, now)
    assert [job.kind for job in service.jobs()].count(JobKind.REMIND) == 1


async def test_a_click_before_the_reminder_job_runs_sends_no_reminder(service: Service) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    service.clock.advance(12 * HOUR)
    reminders.sweep(service.engine, service.settings, service.clock.now())
    assert service.click(5) == "rated"
    await service.drain()
    (invitation,) = service.chat()
    assert "5 из 5" in invitation.message.text and service.rated() == ["good"]


async def test_a_click_between_the_reminders_check_and_its_send_wins(service: Service) -> None:
    _reminding(service)
    service.close()
    await service.drain()
    service.clock.advance(12 * HOUR)
    reminders.sweep(service.engine, service.settings, service.clock.now())
    waiting = service.survey()
    # The reminder job read the survey waiting; the click lands before its message is sent.
    assert service.click(3) == "rated"
    effect = await reminders.remind(waiting, service.vendors(), service.settings)
    with transaction(service.engine) as session:
        effect(session, service.clock.now())
    await service.drain()

    invitation, reminder = service.chat()
    assert invitation.buttons == [] and reminder.buttons == []
    assert "3 из 5" in reminder.message.text
    survey = service.survey()
    assert (survey.state, survey.score, survey.automatic) == (SurveyState.RATED, 3, False)
    assert survey.message_id == invitation_id(service)
    assert service.rated() == ["normal"]


def invitation_id(service: Service) -> int:
    """The id of the first message of the chat (the invitation)."""
    return min(service.messenger.chat)


async def test_a_reminder_job_for_a_survey_timed_out_meanwhile_sends_nothing(
    service: Service,
) -> None:
    _reminding(service, "23h")
    service.close()
    await service.drain()
    service.clock.advance(23 * HOUR)
    reminders.sweep(service.engine, service.settings, service.clock.now())
    assert [job.kind for job in service.jobs()].count(JobKind.REMIND) == 1
    await service.later(HOUR)  # the timeout, then the queued reminder job, in one pass
    assert service.survey().state == SurveyState.DEFAULTED
    (invitation,) = service.chat()
    assert "истекло" in invitation.message.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [("off", None), ("", timedelta(hours=12)), ("90m", timedelta(minutes=90)), ("3600", HOUR)],
)
def test_reminder_after_reads_off_durations_and_defaults_to_half_the_timeout(
    value: str, expected: timedelta | None
) -> None:
    settings: Settings = fast_settings("sqlite://", reminder_after=value)
    assert settings.reminder_delay == expected


@pytest.mark.parametrize("value", ["24h", "2d", "0", "soon", "-1h"])
def test_a_reminder_not_before_the_timeout_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"REMINDER_AFTER|reminder_after"):
        fast_settings("sqlite://", reminder_after=value)


def test_without_a_default_rating_the_reminder_may_come_any_time() -> None:
    settings = fast_settings("sqlite://", reminder_after="2d", default_rating="off")
    assert settings.reminder_delay == timedelta(days=2)


async def test_over_bitrix24s_wire_the_reminder_and_the_invitation_both_get_the_thanks(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    settings = make_settings(database_url, rating_timeout="30s", reminder_after="1s")
    async with running_app(settings, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(lambda: len(vendors.calls("imbot.message.add")) == 2, within=10)
        survey = db_surveys(engine)[-1]
        await app.event(click_body(f"{survey.token}:2"))
        await eventually(lambda: db_surveys(engine)[-1].rating_sent_at is not None)
        await eventually(lambda: len(vendors.calls("imbot.message.update")) == 2)
    _, reminder = vendors.calls("imbot.message.add")
    assert "Напоминаем" in reminder["MESSAGE"]
    first, second = sorted(vendors.bitrix.messages)
    thanks, closed = vendors.calls("imbot.message.update")
    assert int(thanks["MESSAGE_ID"]) == second == db_surveys(engine)[-1].message_id
    assert int(closed["MESSAGE_ID"]) == first  # the invitation's buttons go too (issue 22)
    assert vendors.bitrix.messages[first]["KEYBOARD"] is None
    assert vendors.bitrix.messages[second]["KEYBOARD"] is None
    assert "2 из 5" in thanks["MESSAGE"] and "2 из 5" in closed["MESSAGE"]
    assert [job.kind for job in db_jobs(engine)].count(JobKind.REMIND) == 1
