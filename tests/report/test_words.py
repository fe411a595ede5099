"""The words people wrote, on the page, in both exports and in `show TICKET`: a typed reply
only when it carried words, the answer to the follow-up question, the changes of mind
(tests/report/dataset.py: ticket 1003 answered the follow-up, 1004 answered it only, 1002
typed a bare «4» after changing a 2 to a 4)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.engine import Engine

from bot.reading.replies import carries_words
from harness.app import Running
from harness.vendors import make_settings
from tests.admin.cli import admin as command
from tests.report import dataset
from tests.report.conftest import BEARER


@pytest.mark.parametrize(
    ("reply", "carries"),
    [
        ("5", False),
        ("5!", False),
        ("оценка 5", False),
        ("5 баллов", False),
        ("4 из 5", False),
        ("№12345 — 4", False),
        ("★★★★☆", False),
        ("👍", False),
        ("[b]5[/b]", False),
        ("", False),
        (None, False),
        ("5, спасибо", True),
        ("отлично", True),
        ("5 - быстро и вежливо", True),
        ("Долго ждал ответа", True),
        ("x" * 3000, True),
    ],
)
def test_a_bare_score_carries_no_words(reply: str | None, carries: bool) -> None:
    assert carries_words(reply) is carries


@pytest.mark.anyio
async def test_the_page_shows_the_follow_up_the_change_and_links_to_okdesk(
    admin: Running,
) -> None:
    page = (await admin.client.get(f"/admin?{dataset.QUERY}", headers=BEARER)).text
    assert dataset.FOLLOWUP in page and "Анна всё объяснила" in page
    assert "<blockquote>4</blockquote>" not in page
    changes = page.split('data-table="changes"')[1].split("</table>")[0]
    assert "Заявка 1002</a></td><td>2 → 4</td><td>2026-03-03 12:30</td>" in changes
    okdesk = admin.settings.okdesk_url.rstrip("/")
    assert f'href="{okdesk}/issues/1003"' in page


def _rows(text: str) -> dict[str, dict[str, str]]:
    return {row["Заявка"]: row for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}


@pytest.mark.anyio
async def test_the_page_export_carries_the_words_and_the_changes(admin: Running) -> None:
    answer = await admin.client.get(f"/admin/export.csv?{dataset.QUERY}", headers=BEARER)
    rows = _rows(answer.content.decode("utf-8"))
    assert rows["1003"]["Ответ на вопрос после оценки"] == dataset.FOLLOWUP
    assert rows["1003"]["Комментарий"] == "Долго ждал ответа"
    assert rows["1002"]["Комментарий"] == ""
    assert rows["1002"]["Изменения оценки"] == "2 → 4 2026-03-03 12:30"
    assert rows["1001"]["Изменения оценки"] == ""


def test_the_cli_export_and_show_carry_them_too(database_url: str, engine: Engine) -> None:
    dataset.seed(engine)
    settings = make_settings(database_url)
    out = command(settings, "export", "--from", "2026-03-02", "--to", "2026-03-15").out
    rows = {r["ticket"]: r for r in csv.DictReader(io.StringIO(out))}
    assert (rows["1003"]["followup"], rows["1004"]["followup"]) == (
        dataset.FOLLOWUP,
        "Анна всё объяснила",
    )
    assert (rows["1002"]["comment"], rows["1002"]["score_changes"]) == (
        "",
        "2 → 4 2026-03-03 12:30",
    )
    assert (
        "  score changed: 2 -> 4 at 2026-03-03T12:30:00+00:00"
        in command(settings, "show", "1002").out
    )
    assert f"  followup_text: {dataset.FOLLOWUP}" in command(settings, "show", "1003").out
