"""Issue 22, point 3: a question is not a dead end. Text that is not an answer gets, once per
survey, a reply that the bot only collects ratings and where to ask (SUPPORT_CONTACT_TEXT,
with a default in the person's language); the operator sees such texts on /admin, and they are
forgotten after PERSONAL_DATA_RETENTION."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bridge.report.html.page import render
from bridge.report.period import Period
from bridge.report.read import read_report
from storage.db import transaction
from storage.purge import purge_personal_data
from storage.tables import UnusedMessage
from tests.fast.harness import ISSUE_ID, Service
from tests.survey.steps import configure

pytestmark = pytest.mark.anyio

HOW = "Чтобы оценить заявку, нажмите кнопку от 1 до 5 под сообщением о ней"
ONLY = "Я бот оценки заявок: я только собираю оценки и не могу ответить на сообщение."
CONTACT = "С вопросом обратитесь в службу поддержки: ответьте на письмо о заявке"


def _kept(service: Service) -> list[str]:
    with transaction(service.engine) as session:
        return [row.text for row in session.exec(select(UnusedMessage)).all()]


async def _invited(service: Service) -> None:
    service.close()
    await service.drain()


async def test_a_question_gets_once_where_to_ask_and_is_kept_for_the_operator(
    service: Service,
) -> None:
    await _invited(service)
    assert service.type_reply("спасибо, а когда придёт мастер?", message_id=1) == "not_a_rating"
    assert service.type_reply("алло? ivan@acme.example", message_id=2) == "not_a_rating"
    await service.drain()

    said = [posted.message.text for posted in service.chat()[1:]]
    assert len(said) == 1
    assert said[0].startswith(HOW) and ONLY in said[0] and CONTACT in said[0]
    assert _kept(service) == ["спасибо, а когда придёт мастер?", "алло? ivan@acme.example"]

    now = service.clock.now()
    period = Period(now.date(), now.date())
    page = render(
        read_report(service.engine, period),
        language="ru",
        okdesk="https://o",
        form=lambda: ("n", "c"),
        now=now,
    )
    assert "Сообщения, которые бот не смог использовать" in page
    assert "когда придёт мастер?" in page and "ivan@acme.example" not in page
    assert f"/issues/{ISSUE_ID}" in page


async def test_the_support_contact_text_is_a_setting(service: Service) -> None:
    configure(service, support_contact_text="Звоните: +7 495 000-00-00, доб. 5")
    await _invited(service)
    service.type_reply("когда придёт мастер?", message_id=1)
    await service.drain()
    assert service.chat()[-1].message.text.endswith("Звоните: +7 495 000-00-00, доб. 5")


async def test_in_english_the_default_is_english(service: Service) -> None:
    configure(service, language="en")
    await _invited(service)
    service.type_reply("when will the engineer come?", message_id=1)
    await service.drain()
    text = service.chat()[-1].message.text
    assert "I only collect ratings" in text and "contact the support team" in text


async def test_kept_texts_are_forgotten_after_the_retention(service: Service) -> None:
    await _invited(service)
    service.type_reply("когда придёт мастер?", message_id=1)
    received = service.clock.now()
    with transaction(service.engine) as session:
        purge_personal_data(session, finished_before=received)
    assert _kept(service) == ["когда придёт мастер?"]
    with transaction(service.engine) as session:
        purge_personal_data(session, finished_before=received + timedelta(seconds=1))
    assert _kept(service) == []
