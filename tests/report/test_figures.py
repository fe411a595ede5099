"""The report's figures against the hand-computed ones of tests/report/dataset.py, read from
the database by the queries, shown on the page, and exported as CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from bridge.report.html.texts import percent
from bridge.report.period import parse_period
from bridge.report.read import read_report
from harness.app import Running
from tests.report import dataset
from tests.report.conftest import BEARER
from tests.report.dataset import EXPECTED

PERIOD = parse_period("2026-03-02", "2026-03-15", date(2026, 3, 20))


def test_the_figures_are_the_hand_computed_ones(engine: Engine) -> None:
    dataset.seed(engine)
    report = read_report(engine, PERIOD)
    overview = report.overview
    assert (overview.human, overview.automatic) == (EXPECTED["human"], EXPECTED["automatic"])
    assert (overview.delivered, overview.surveys) == (EXPECTED["delivered"], EXPECTED["surveys"])
    assert overview.score.csat == pytest.approx(4 / 7)
    assert overview.score.mean == pytest.approx(24 / 7)
    assert overview.response_rate == pytest.approx(7 / 11)
    assert overview.distribution == EXPECTED["distribution"]
    weeks = {w.label("ru"): (w.score.ratings, round(w.score.csat or 0, 4)) for w in report.weeks}
    assert weeks == {k: (n, round(c, 4)) for k, (n, c) in EXPECTED["weeks"].items()}
    engineers = {
        r.name: (r.score.ratings, percent(r.score.csat), f"{r.score.mean:.2f}")
        for r in report.engineers
    }
    assert engineers == EXPECTED["engineers"]
    assert {r.name: r.score.ratings for r in report.groups} == {
        k: v[0] for k, v in EXPECTED["groups"].items()
    }
    machine = {k: report.machine.get(k, 0) for k in ("inviting", "awaiting", "undeliverable")}
    assert machine == {k: EXPECTED[k] for k in machine}
    assert report.machine["failed"] == EXPECTED["failed"]


def test_comments_are_people_s_low_scores_first_without_tests_or_automatic(engine: Engine) -> None:
    dataset.seed(engine)
    report = read_report(engine, PERIOD)
    # 1 (ticket 1005), 2 (1003), 3 (1006), 5 (1004: only a follow-up answer, then 1001);
    # ticket 1002's bare typed «4» is no comment.
    assert [(c.score, c.issue_id) for c in report.comments] == [
        (1, 1005),
        (2, 1003),
        (3, 1006),
        (5, 1004),
        (5, 1001),
    ]
    texts = [f"{c.text} {c.followup}" for c in report.comments]
    assert all("test" not in text and "автомат" not in text for text in texts)


def _figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', page)
    assert found is not None, name
    return found.group(1)


@pytest.mark.anyio
async def test_the_page_shows_them_escaped(admin: Running) -> None:
    page = (await admin.client.get(f"/admin?{dataset.QUERY}", headers=BEARER)).text
    assert _figure(page, "csat") == EXPECTED["csat"]
    assert _figure(page, "response") == EXPECTED["response"]
    assert _figure(page, "mean") == EXPECTED["mean_ru"]
    assert (_figure(page, "human"), _figure(page, "automatic")) == ("7", "2")
    assert (_figure(page, "awaiting"), _figure(page, "failed")) == ("2", "1")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "Anna &lt;b&gt;Smith&lt;/b&gt;" in page
    assert "boss@acme.example" not in page
    assert "Okdesk ответил HTTP 500 (rate)" in page
    assert "В Битрикс24 нет активного пользователя с e-mail контакта" in page
    assert page.count("<svg") == 2 and "<title>Оценка 4: 2</title>" in page


def _export(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


@pytest.mark.anyio
async def test_the_export_has_a_row_per_survey_and_nothing_erased(admin: Running) -> None:
    answer = await admin.client.get(f"/admin/export.csv?{dataset.QUERY}", headers=BEARER)
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = _export(answer.content.decode("utf-8"))
    assert len(rows) == EXPECTED["surveys"]
    assert {int(r["Заявка"]) for r in rows} == {1000 + n for n in (*range(1, 14), 16)}
    first = rows[0]
    assert first["Оценка"] == "5" and first["Оценка в Okdesk"] == "good"
    assert first["Исполнитель"] == dataset.IVAN and first["Компания"] == "ООО Ромашка"
    assert first["Создан"] == "2026-03-02 09:00:00" and first["Автоматическая"] == "0"
    assert first["Комментарий"] == "Спасибо, всё быстро"
    purged = next(r for r in rows if r["Заявка"] == "1007")
    assert (purged["Исполнитель"], purged["Комментарий"], purged["Оценка"]) == ("", "", "4")
    assert "@" not in answer.text
    formula = next(r for r in rows if r["Заявка"] == "1006")
    assert formula["Комментарий"].startswith("'=")
    assert sum(r["Автоматическая"] == "1" for r in rows) == 2


@pytest.mark.anyio
async def test_the_export_reads_past_one_batch(
    admin: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bridge.web.routes.admin.EXPORT_BATCH", 3)
    answer = await admin.client.get(f"/admin/export.csv?{dataset.QUERY}", headers=BEARER)
    rows = _export(answer.content.decode("utf-8"))
    assert len(rows) == len({r["Заявка"] for r in rows}) == EXPECTED["surveys"]
