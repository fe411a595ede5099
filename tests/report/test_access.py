"""Who may open the report: nobody without ADMIN_TOKEN (404), the token as a Basic password
or a bearer token (200), anything else 401 with a Basic challenge; and the retry button
refuses a cross-site POST (403)."""

from __future__ import annotations

import re

import httpx
import pytest

from bridge.report.html import guard
from harness.app import Running, running_app
from harness.vendors import make_settings, seeded_vendors
from tests.report import dataset
from tests.report.conftest import ADMIN_TOKEN, BEARER, basic

pytestmark = pytest.mark.anyio
PATHS = ("/admin", "/admin/export.csv")


async def test_without_admin_token_the_routes_do_not_exist(database_url: str) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, seeded_vendors()) as running:
        for path in PATHS:
            assert (await running.client.get(path, headers=BEARER)).status_code == 404
        assert (await running.client.post("/admin/retry", headers=BEARER)).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic("wrong-password-wrong-password"),
        basic(ADMIN_TOKEN[:-1]),
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Token {ADMIN_TOKEN}"},
        {"Authorization": "Basic %%%not-base64"},
    ],
)
async def test_wrong_or_missing_credentials_get_a_basic_challenge(
    admin: Running, headers: dict[str, str]
) -> None:
    for path in PATHS:
        answer = await admin.client.get(path, headers=headers)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == 'Basic realm="rating"'
        assert ADMIN_TOKEN not in answer.text


async def test_basic_with_any_user_and_bearer_are_let_in(admin: Running) -> None:
    for headers in (basic(ADMIN_TOKEN), basic(ADMIN_TOKEN, user=""), BEARER):
        for path in PATHS:
            answer = await admin.client.get(path, headers=headers)
            assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "query", ["from=2026-13-01", "to=yesterday", "from=2026-03-10&to=2026-03-01", "to=20260301"]
)
async def test_a_bad_date_is_400_with_a_reason(admin: Running, query: str) -> None:
    answer = await admin.client.get(f"/admin?{query}", headers=BEARER)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    problem = answer.text.split('class="problem" role="alert">')[1].split("</p>")[0]
    assert problem.endswith("Показаны последние 30 дней.")
    assert "«с»" in problem or "«по»" in problem or "Начало периода позже" in problem


def _form(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(nonce|csrf)" value="([^"]+)"', page))


async def _post(admin: Running, form: dict[str, str], **headers: str) -> httpx.Response:
    return await admin.client.post(
        f"/admin/retry?{dataset.QUERY}", data=form, headers={**BEARER, **headers}
    )


async def test_the_retry_button_refuses_cross_site_and_forged_posts(admin: Running) -> None:
    form = _form((await admin.client.get("/admin", headers=BEARER)).text)
    ours = "http://rating.test"
    refused = [
        await _post(admin, form, origin="https://evil.example"),
        await _post(admin, form, referer="https://evil.example/admin"),
        await _post(admin, form),
        await _post(admin, {**form, "csrf": "0" * 64}, origin=ours),
        await _post(admin, {}, origin=ours),
        await _post(admin, {"nonce": "1.x", "csrf": form["csrf"]}, origin=ours),
    ]
    assert [answer.status_code for answer in refused] == [403] * len(refused)
    assert (await admin.client.post("/admin/retry", data=form)).status_code == 401


async def test_the_retry_button_queues_the_failed_and_comes_back(admin: Running) -> None:
    form = _form((await admin.client.get("/admin", headers=BEARER)).text)
    answer = await _post(admin, form, origin="http://rating.test")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/admin?{dataset.QUERY}&queued=1&refused=0"
    page = await admin.client.get(answer.headers["location"], headers=BEARER)
    assert "Поставлено в очередь заново: 1." in page.text
    # Nothing failed is left: no button. Referer alone (no Origin) from our page is
    # accepted too, with a fresh form of our page.
    assert 'class="retry"' not in page.text
    form = dict(zip(("nonce", "csrf"), guard.form_token(ADMIN_TOKEN), strict=True))
    again = await _post(admin, form, referer=f"http://rating.test/admin?{dataset.QUERY}")
    assert again.headers["location"].endswith("queued=0&refused=0")
