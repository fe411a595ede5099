"""A low rating reaches the team's chat: one alert naming the ticket (with its Okdesk link), the
person, the score, the engineer and group; the follow-up answer edited into it; «Беру»; never
for a high, automatic or test rating; retried when Bitrix24 fails, never posted twice."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from outbound.errors import RejectedError, TransientError
from storage import queue
from storage.db import transaction
from storage.survey import surveys
from storage.tables import JobKind, Survey, SurveyState
from storage.team import posts
from storage.team.tables import TeamMessage
from tests.admin.cli import admin
from tests.fast.harness import USER_ID, Service
from tests.survey.steps import press_change_button
from tests.team.steps import LEAD, LEAD_ID, close_with_context, press_take, team_chat

pytestmark = pytest.mark.anyio

ALERT = (
    "[b]Низкая оценка: 2 из 5[/b][br]Заявка [url=https://acme.okdesk.ru/issues/314599]№314599"
    "[/url] — Касса не печатает чек[br]Клиент: [USER=27][/USER], ООО Ромашка"
    "[br]Исполнитель: Алексей Сергеевич Карпенко · Первая линия"
)


async def rated_low(service: Service, score: int = 2) -> None:
    """The ticket is closed, the person invited, and they press a low score."""
    close_with_context(service)
    await service.drain()
    assert service.click(score) == "rated"
    await service.drain()


def alert_row(service: Service) -> TeamMessage:
    survey_id = service.survey().id
    assert survey_id is not None
    with transaction(service.engine) as session:
        row = posts.alert_of(session, survey_id=survey_id)
    assert row is not None
    return row


async def test_a_low_rating_is_posted_once_naming_ticket_person_score_engineer_group(
    service: Service,
) -> None:
    await rated_low(service)
    await service.later(timedelta(minutes=5))

    (alert,) = team_chat(service)
    assert alert.message.text == ALERT
    survey_id = service.survey().id
    assert [(b["TEXT"], b["COMMAND"], b["COMMAND_PARAMS"]) for b in alert.buttons] == [
        ("Беру", "rate", f"alert:{survey_id}:take")
    ]
    row = alert_row(service)
    assert row.message_id is not None and row.posted_at is not None
    assert row.sending_lease is None and row.unsure_at is None


async def test_the_follow_up_answer_is_edited_into_the_alert(service: Service) -> None:
    await rated_low(service)

    assert service.type_reply("Мастер опоздал\nна 2 часа", message_id=1) == "followed_up"
    await service.drain()

    (alert,) = team_chat(service)
    assert alert.edits == 1
    assert alert.message.text == ALERT + "[br]Что пошло не так: «Мастер опоздал на 2 часа»"
    assert alert.buttons  # nobody took it yet


async def test_take_records_who_took_it_and_the_alert_says_so(service: Service) -> None:
    await rated_low(service)
    await service.later(timedelta(minutes=30))

    assert press_take(service) is True
    await service.drain()

    (alert,) = team_chat(service)
    # 12:30 UTC is 15:30 in Moscow (TIMEZONE's default).
    moment = service.clock.now().astimezone(service.settings.zone).strftime("%d.%m %H:%M")
    assert alert.message.text == ALERT + f"[br][b]Взял(а): {LEAD}[/b], {moment}"
    assert alert.buttons == []
    row = alert_row(service)
    assert (row.taken_by_id, row.taken_by, row.taken_at) == (LEAD_ID, LEAD, service.clock.now())
    # The first press counts; a second one (another person, a replay) changes nothing.
    assert press_take(service, user_id=99) is False
    assert alert_row(service).taken_by_id == LEAD_ID


async def test_a_take_outside_the_team_chat_counts_for_nothing(service: Service) -> None:
    await rated_low(service)

    assert press_take(service, dialog_id=str(USER_ID), user_id=USER_ID) is False
    assert alert_row(service).taken_at is None


async def test_no_alert_for_a_high_rating(service: Service) -> None:
    await rated_low(service, 3)
    assert team_chat(service) == []


async def test_no_alert_without_a_team_chat(service: Service) -> None:
    service.configure(alert_dialog_id="", followup_max_score="3")
    await rated_low(service, 1)
    assert service.messenger.chat and team_chat(service) == []
    assert not [job for job in service.jobs() if job.kind == JobKind.ALERT]


async def test_no_alert_for_an_automatic_rating(service: Service) -> None:
    service.configure(alert_dialog_id="chat77", default_rating="1")
    close_with_context(service)
    await service.drain()

    await service.later(timedelta(hours=25))

    survey = service.survey()
    assert survey.state == SurveyState.DEFAULTED and survey.score == 1 and survey.automatic
    assert team_chat(service) == []
    assert not [job for job in service.jobs() if job.kind == JobKind.ALERT]


async def test_no_alert_for_a_test_invitation(service: Service) -> None:
    now = service.clock.now()
    test = Survey(
        token=surveys.new_survey_token(),
        issue_id=0,
        state=SurveyState.INVITING,
        language="ru",
        is_test=True,
        bitrix_user_id=USER_ID,
        created_at=now,
        updated_at=now,
    )
    with transaction(service.engine) as session:
        survey_id = surveys.open_survey(session, survey=test)
        queue.enqueue(session, kind=JobKind.INVITE, now=now, survey_id=survey_id)
    await service.drain()

    assert service.click(1) == "rated"
    await service.drain()

    assert team_chat(service) == []


async def test_a_failed_post_is_retried_and_the_alert_posted_once(service: Service) -> None:
    service.configure(alert_dialog_id="chat77", followup_max_score="off")
    close_with_context(service)
    await service.drain()
    service.messenger.fail("send", TransientError("503 QUERY_LIMIT_EXCEEDED"))
    service.click(2)

    await service.drain()
    assert team_chat(service) == []
    assert alert_row(service).sending_lease is None  # the failed attempt let go
    await service.later(timedelta(minutes=5))

    (alert,) = team_chat(service)
    assert alert.message.text == ALERT
    (job,) = [job for job in service.jobs() if job.kind == JobKind.ALERT]
    assert job.attempts == 2


async def test_a_refused_post_fails_its_job_and_the_alert_waits_on_admin(
    service: Service,
) -> None:
    service.configure(alert_dialog_id="chat77", followup_max_score="off")
    close_with_context(service)
    await service.drain()
    service.messenger.fail("send", RejectedError("ACCESS_DENIED: the bot is not in the chat"))
    service.click(2)
    await service.drain()

    assert team_chat(service) == []
    (job,) = [job for job in service.jobs() if job.kind == JobKind.ALERT]
    assert job.state == "failed" and "ACCESS_DENIED" in (job.last_error or "")


async def test_a_poster_that_died_after_sending_is_never_followed_by_a_second_post(
    service: Service,
) -> None:
    close_with_context(service)
    await service.drain()
    service.click(2)
    survey_id = service.survey().id
    assert survey_id is not None
    # An attempt took the sending mark and died before its outcome was recorded: its lease
    # is no job's any more, as after a kill (tests/chaos has the real kill).
    with transaction(service.engine) as session:
        key = posts.alert_key(survey_id)
        dead = posts.start_sending(session, key=key, lease="dead-attempt", now=service.clock.now())
        assert dead is posts.Sending.MAY

    await service.drain()

    assert team_chat(service) == []
    row = alert_row(service)
    assert row.unsure_at is not None and row.message_id is None
    jobs = [job for job in service.jobs() if job.kind == JobKind.ALERT]
    assert [job.state for job in jobs] == ["done"]


async def test_a_change_of_mind_to_a_higher_score_is_shown_on_the_alert(
    service: Service,
) -> None:
    service.configure(alert_dialog_id="chat77", change_window="1h")
    await rated_low(service)

    assert press_change_button(service) == "change_offered"
    await service.drain()
    assert service.click(4) == "changed"
    await service.drain()

    (alert,) = team_chat(service)
    changed = ALERT.replace("Низкая оценка: 2 из 5", "Оценка изменена: теперь 4 из 5")
    assert alert.message.text == changed


async def test_the_alert_speaks_english_when_the_service_does(service: Service) -> None:
    service.configure(alert_dialog_id="chat77", language="en")
    await rated_low(service, 1)

    (alert,) = team_chat(service)
    assert alert.message.text.startswith(
        "[b]Low rating: 1 out of 5[/b][br]Ticket [url=https://acme.okdesk.ru/issues/314599]#314599"
    )
    assert "[br]Client: [USER=27][/USER], ООО Ромашка[br]Engineer: " in alert.message.text
    assert [b["TEXT"] for b in alert.buttons] == ["I'll take it"]


async def test_a_change_of_mind_to_a_low_score_posts_the_alert(service: Service) -> None:
    service.configure(alert_dialog_id="chat77", change_window="1h")
    await rated_low(service, 4)
    assert team_chat(service) == []

    assert press_change_button(service) == "change_offered"
    await service.drain()
    assert service.click(2) == "changed"
    await service.drain()

    (alert,) = team_chat(service)
    assert alert.message.text == ALERT


async def test_who_took_the_alert_is_in_the_export_and_in_admin_show(service: Service) -> None:
    await rated_low(service)
    assert press_take(service) is True

    ran = admin(service.settings, "export")
    assert ran.code == 0
    header, row = list(csv.reader(io.StringIO(ran.out)))
    taken = dict(zip(header, row, strict=True))
    moment = service.clock.now().isoformat(timespec="seconds")
    assert (taken["taken_in_chat_by"], taken["taken_in_chat_at"]) == (LEAD, moment)

    shown = admin(service.settings, "show", str(service.survey().issue_id))
    assert f"  taken in the chat by: {LEAD} at {moment}" in shown.out.splitlines()
