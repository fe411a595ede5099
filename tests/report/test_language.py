"""The page speaks one language: its period errors, failure reasons, weeks and the retry
button, in Russian (the default) and in English."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update

from bridge.report.reasons import reason
from harness.app import Running, running_app
from harness.vendors import make_settings, seeded_vendors
from storage.db import create_db_engine, transaction
from storage.tables import Job
from tests.report import dataset
from tests.report.conftest import ADMIN_TOKEN, BEARER

pytestmark = pytest.mark.anyio


@pytest.fixture
async def english(admin: Running, database_url: str) -> AsyncIterator[Running]:
    """The app with LANGUAGE=en over the data set (`admin` seeded it)."""
    settings = make_settings(
        database_url, admin_token=ADMIN_TOKEN, worker_enabled=False, language="en"
    )
    async with running_app(settings, seeded_vendors()) as running:
        yield running


def _problem(page: str) -> str:
    return page.split('class="problem" role="alert">')[1].split("</p>")[0]


async def test_a_bad_period_is_the_page_with_a_message_in_its_language(
    admin: Running, english: Running
) -> None:
    russian = await admin.client.get("/admin?from=2026-03-10&to=2026-03-01", headers=BEARER)
    assert russian.status_code == 400 and '<html lang="ru">' in russian.text
    assert _problem(russian.text) == ("Начало периода позже его конца. Показаны последние 30 дней.")
    assert 'data-figure="csat"' in russian.text
    answer = await english.client.get("/admin?to=yesterday", headers=BEARER)
    assert answer.status_code == 400 and '<html lang="en">' in answer.text
    assert _problem(answer.text) == (
        "The date «to» must be YYYY-MM-DD, e.g. 2026-03-01. Showing the last 30 days."
    )
    export = await admin.client.get("/admin/export.csv?from=2026-13-01", headers=BEARER)
    assert export.status_code == 400
    assert export.text == "Дата «с» должна быть в виде ГГГГ-ММ-ДД, например 2026-03-01."


async def test_reasons_states_and_weeks_are_in_the_page_s_language(
    admin: Running, english: Running
) -> None:
    russian = (await admin.client.get(f"/admin?{dataset.QUERY}", headers=BEARER)).text
    assert "<td>Ошибка</td><td>Okdesk ответил HTTP 500 (rate)</td>" in russian
    assert "/issues/1013" in russian and "/issues/1012" in russian  # every ticket links
    assert "<td>Не доставлены</td>" in russian
    assert "<title>02.03–08.03.2026: CSAT 75%, оценок 4</title>" in russian
    # Weeks are dates, never ISO week labels (looked for in the text the page shows: its
    # forms' one-use tokens, in attributes, may hold any letters).
    assert ">09.03</text>" in russian and not re.search(r">[^<]*\bW\d{1,2}\b", russian)
    page = (await english.client.get(f"/admin?{dataset.QUERY}", headers=BEARER)).text
    assert "<td>Failed</td><td>Okdesk answered HTTP 500 (rate)</td>" in page
    assert "No active Bitrix24 user has the contact&#x27;s e-mail address" in page
    assert "<title>Mar 2–Mar 8, 2026: CSAT 75%, 4 ratings</title>" in page


@pytest.mark.parametrize(
    ("recorded", "ru"),
    [
        (
            "the ticket is 'opened' in Okdesk, not done",
            "Заявка в Okdesk в статусе «opened», а не выполнена",
        ),
        (
            "2 Bitrix24 users have the contact's e-mail address",
            "E-mail контакта есть у нескольких пользователей Битрикс24: 2",
        ),
        (
            "Okdesk accepted the rating 'good' but shows 'bad'",
            "Okdesk принял оценку 'good', но показывает 'bad'",
        ),
        ("Bitrix24 said ERROR_CORE", "Bitrix24 said ERROR_CORE"),
    ],
)
def test_recorded_reasons_read_in_russian(recorded: str, ru: str) -> None:
    assert reason(recorded, "ru") == ru


async def test_the_retry_button_shows_only_when_something_can_be_retried(
    admin: Running,
) -> None:
    page = (await admin.client.get(f"/admin?{dataset.QUERY}", headers=BEARER)).text
    assert 'class="retry"' in page
    engine = create_db_engine(admin.settings.database_url, pool_size=1)
    with transaction(engine) as session:
        session.execute(update(Job).values(state="done"))
    engine.dispose()
    page = (await admin.client.get(f"/admin?{dataset.QUERY}", headers=BEARER)).text
    assert 'class="retry"' not in page
