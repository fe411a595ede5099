"""The report's filters and the previous period, against tests/report/dataset.py by hand.

Ivan (engineer): people's 5, 4, 2 → CSAT 2/3 = 67%; delivered to his tickets: those 3, the
2 automatic and the 2 awaiting = 7 → response 3/7 = 43%. The second line (group): Anna's 5,
1, 3 → CSAT 1/3 = 33%, all 3 delivered → 100%. The previous period of 2026-03-02..15 is
2026-02-16..03-01: ticket 1015's 1, delivered → CSAT 0%, response 100%."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import update
from sqlmodel import col

from harness.app import Running
from storage.db import create_db_engine, transaction
from storage.portals import Portal, PortalState
from storage.tables import Survey
from tests.report import dataset
from tests.report.conftest import BEARER

pytestmark = pytest.mark.anyio


def _figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]*)<', page)
    assert found is not None, name
    return found.group(1)


async def _page(admin: Running, filters: str = "") -> str:
    answer = await admin.client.get(f"/admin?{dataset.QUERY}{filters}", headers=BEARER)
    assert answer.status_code == 200
    return answer.text


async def test_csat_and_response_beside_the_previous_period(admin: Running) -> None:
    page = await _page(admin)
    assert (_figure(page, "csat"), _figure(page, "csat_previous")) == ("57%", "0%")
    assert (_figure(page, "response"), _figure(page, "response_previous")) == ("64%", "100%")


async def test_an_engineer_filter_keeps_their_tickets_everywhere(admin: Running) -> None:
    page = await _page(admin, f"&engineer={quote(dataset.IVAN)}")
    assert (_figure(page, "csat"), _figure(page, "response")) == ("67%", "43%")
    assert (_figure(page, "human"), _figure(page, "automatic")) == ("3", "2")
    assert "/issues/1003" in page and "/issues/1005" not in page
    assert f'name="engineer" value="{dataset.IVAN}"' in page
    assert f"/admin/export.csv?{escape(dataset.QUERY)}&amp;engineer=" in page
    # Before the period Ivan had ticket 1015's 1 (all tickets are his by default).
    assert _figure(page, "csat_previous") == "0%"


async def test_group_company_type_and_priority_filters(admin: Running) -> None:
    page = await _page(admin, f"&group={quote(dataset.SECOND)}")
    assert (_figure(page, "csat"), _figure(page, "response")) == ("33%", "100%")
    assert _figure(page, "csat_previous") == "—"
    nobody = await _page(admin, "&company=" + quote("ООО Другая"))
    assert (_figure(nobody, "human"), _figure(nobody, "csat")) == ("0", "—")
    engine = create_db_engine(admin.settings.database_url, pool_size=1)
    with transaction(engine) as session:
        session.execute(
            update(Survey)
            .where(Survey.issue_id.in_([1001, 1005]))  # type: ignore[attr-defined]
            .values(type_code="incident", priority_code="high")
        )
    engine.dispose()
    typed = await _page(admin, "&type=incident&priority=high")
    # Ticket 1001's 5 and 1005's 1: CSAT 1/2, both delivered.
    assert (_figure(typed, "csat"), _figure(typed, "response")) == ("50%", "100%")
    wrong = await _page(admin, "&type=incident&priority=low")
    assert _figure(wrong, "human") == "0"


async def test_the_export_and_the_buttons_keep_the_filters(admin: Running) -> None:
    ivan = "&" + urlencode({"engineer": dataset.IVAN})
    answer = await admin.client.get(f"/admin/export.csv?{dataset.QUERY}{ivan}", headers=BEARER)
    tickets = {line.split(",")[0] for line in answer.text.lstrip("\ufeff").splitlines()[1:]}
    assert tickets == {"1001", "1002", "1003", "1008", "1009", "1010", "1011", "1012", "1013",
                       "1016"}  # fmt: skip
    page = await _page(admin, ivan)
    form = dict(re.findall(r'name="(nonce|csrf|survey)" value="([^"]+)"', page))
    pressed = await admin.client.post(
        f"/admin/handled?{dataset.QUERY}{ivan}",
        data=form,
        headers={**BEARER, "origin": "http://rating.test"},
    )
    assert pressed.headers["location"] == f"/admin?{dataset.QUERY}{ivan}&handled=1"


def _portal_acme(admin: Running, issue_ids: list[int]) -> None:
    """A second portal, `acme` (number 1), whose people were asked these tickets."""
    engine = create_db_engine(admin.settings.database_url, pool_size=1)
    with transaction(engine) as session:
        now = datetime.now(UTC)
        session.add(
            Portal(
                id=1,
                name="acme",
                domain="acme.bitrix24.ru",
                api="v1",
                bot_code="b",
                state=PortalState.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        )
        # Everyone else was asked in the settings' portal, number 0.
        session.execute(update(Survey).where(col(Survey.message_id).is_not(None)).values(portal=0))
        session.execute(update(Survey).where(col(Survey.issue_id).in_(issue_ids)).values(portal=1))
    engine.dispose()


async def test_a_portal_filter_keeps_its_portal_s_surveys_in_the_page_and_the_export(
    admin: Running,
) -> None:
    alone = await _page(admin)
    _portal_acme(admin, [1001, 1005])
    both = await _page(admin)
    acme = await _page(admin, "&portal=acme")
    home = await _page(admin, "&portal=default")
    answer = await admin.client.get(
        f"/admin/export.csv?{dataset.QUERY}&portal=acme", headers=BEARER
    )
    tickets = {line.split(",")[0] for line in answer.text.lstrip("\ufeff").splitlines()[1:]}
    # One portal: nothing to choose. Two: a list of both, the chosen one kept.
    assert 'name="portal"' not in alone
    assert re.findall(r'<option value="(\w*)"', both.split("</header>")[0]) == [
        "",
        "default",
        "acme",
    ]
    assert '<option value="acme" selected>' in acme
    # Ticket 1001's 5 and 1005's 1: CSAT 1/2, both delivered; the export holds just those two.
    assert (_figure(acme, "csat"), _figure(acme, "response")) == ("50%", "100%")
    assert _figure(acme, "human") == "2" and "/issues/1003" not in acme
    assert tickets == {"1001", "1005"}
    assert _figure(home, "human") == str(int(_figure(both, "human")) - 2)
