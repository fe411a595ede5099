"""The operator's pages under attack (issue 23, point 11): malformed input is 400, never 500;
wrong tokens are throttled per address; a form is good for one POST and only from our own
origin, scheme included; /metrics serves only the loopback without METRICS_TOKEN and keeps a
scrape for a second."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bridge.report.html import guard
from harness.app import Running, running_app
from harness.clock import ManualClock
from harness.payloads import closed_webhook
from harness.vendors import make_settings, seeded_vendors
from tests.report.conftest import ADMIN_TOKEN, BEARER, basic
from tests.report.test_access import _form, _post

pytestmark = pytest.mark.anyio
METRICS_TOKEN = "metrics-secret-0123456789abcdef"


@pytest.mark.parametrize(
    "query", ["to=9999-12-31", "from=0001-01-01&to=0001-01-05", "to=0001-01-05", "queued=²"]
)
async def test_odd_queries_are_400_or_ignored_never_500(admin: Running, query: str) -> None:
    answer = await admin.client.get(f"/admin?{query}", headers=BEARER)
    assert answer.status_code in (200, 400), answer.text
    assert "Traceback" not in answer.text


@pytest.mark.parametrize(
    "form",
    [
        {"nonce": f"{int(time.time())}.x", "csrf": "ключ"},
        {"nonce": "²³.x", "csrf": "0" * 64},
        {"nonce": "１２.x", "csrf": "0" * 64},
    ],
)
async def test_a_forged_form_with_odd_characters_is_refused_not_a_500(
    admin: Running, form: dict[str, str]
) -> None:
    answer = await _post(admin, form, origin="http://rating.test")
    assert answer.status_code == 403, answer.text


async def test_a_form_is_good_for_one_post(admin: Running) -> None:
    form = _form((await admin.client.get("/admin", headers=BEARER)).text)
    first = await _post(admin, form, origin="http://rating.test")
    replayed = await _post(admin, form, origin="http://rating.test")
    assert first.status_code == 303
    assert replayed.status_code == 403
    assert "already sent" in replayed.text


async def test_a_form_sent_to_one_replica_cannot_be_sent_again_to_another(
    admin: Running, database_url: str
) -> None:
    """Behind a load balancer the replay may reach another replica: the used form is recorded
    in the database they share, not in one process's memory."""
    settings = make_settings(database_url, admin_token=ADMIN_TOKEN, worker_enabled=False)
    form = _form((await admin.client.get("/admin", headers=BEARER)).text)
    assert (await _post(admin, form, origin="http://rating.test")).status_code == 303
    async with running_app(settings, seeded_vendors()) as other:
        replayed = await _post(other, form, origin="http://rating.test")
    # "already sent", not "stale or forged": the other replica took the form as ours.
    assert replayed.status_code == 403
    assert "already sent" in replayed.text


async def test_a_form_lives_no_longer_than_the_purge_remembers_it(
    admin: Running, database_url: str
) -> None:
    """With PERSONAL_DATA_RETENTION under the form's 12 hours, the purge would forget a used
    form while it is still valid: the form then lives only as long as the retention."""
    settings = make_settings(
        database_url,
        admin_token=ADMIN_TOKEN,
        worker_enabled=False,
        personal_data_retention=timedelta(hours=1),
    )
    nonce, csrf = guard.form_token(ADMIN_TOKEN, now=time.time() - 2 * 3600)
    two_hours_old = {"nonce": nonce, "csrf": csrf}
    async with running_app(settings, seeded_vendors()) as short:
        refused = await _post(short, two_hours_old, origin="http://rating.test")
    assert refused.status_code == 403
    assert "stale" in refused.text
    # The same form where the purge keeps 30 days.
    assert (await _post(admin, two_hours_old, origin="http://rating.test")).status_code == 303


async def test_the_origin_must_have_our_scheme_too(admin: Running) -> None:
    form = _form((await admin.client.get("/admin", headers=BEARER)).text)
    refused = await _post(admin, form, origin="https://rating.test")  # we are http://rating.test
    assert refused.status_code == 403
    assert (await _post(admin, form, origin="http://rating.test")).status_code == 303


async def test_the_pages_tell_the_browser_not_to_sniff_nor_leak_the_address(
    admin: Running,
) -> None:
    for answer in (
        await admin.client.get("/admin", headers=BEARER),
        await admin.client.get("/admin/export.csv", headers=BEARER),
        await admin.client.get("/admin", headers=basic("wrong-password-wrong")),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"


async def test_wrong_admin_tokens_are_throttled_per_address(database_url: str) -> None:
    settings = make_settings(database_url, admin_token=ADMIN_TOKEN, worker_enabled=False)
    async with running_app(settings, seeded_vendors(), peer="198.51.100.7") as guesser:
        guesses = [
            (await guesser.client.get("/admin", headers=basic(f"guess-{n:020d}"))).status_code
            for n in range(12)
        ]
        # Past the limit even the right token waits: else the guessing would go on.
        right = await guesser.client.get("/admin", headers=BEARER)
    assert guesses[:10] == [401] * 10
    assert guesses[10:] == [429, 429]
    assert right.status_code == 429
    assert right.headers["retry-after"] == "60"


async def test_metrics_without_a_token_answer_only_the_loopback(database_url: str) -> None:
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, seeded_vendors(), peer="203.0.113.5") as stranger:
        refused = await stranger.client.get("/metrics")
    async with running_app(settings, seeded_vendors(), peer="::1") as local:
        served = await local.client.get("/metrics")
    assert refused.status_code == 403
    assert "METRICS_TOKEN" in refused.json()["detail"]
    assert served.status_code == 200


async def test_wrong_metrics_tokens_are_throttled_per_address(database_url: str) -> None:
    settings = make_settings(database_url, worker_enabled=False, metrics_token=METRICS_TOKEN)
    async with running_app(settings, seeded_vendors(), peer="203.0.113.5") as guesser:
        wrong = {"Authorization": "Bearer " + "x" * 31}
        statuses = [(await guesser.client.get("/metrics", headers=wrong)).status_code]
        for _ in range(11):
            statuses.append((await guesser.client.get("/metrics", headers=wrong)).status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]


async def test_a_scrape_is_kept_for_a_second(database_url: str) -> None:
    clock = ManualClock()
    settings = make_settings(database_url, worker_enabled=False)
    async with running_app(settings, seeded_vendors(), clock=clock) as app:
        first = (await app.client.get("/metrics")).text
        assert (await app.webhook(closed_webhook())).status_code == 200
        cached = (await app.client.get("/metrics")).text
        clock.now += timedelta(seconds=1)
        fresh = (await app.client.get("/metrics")).text
    assert cached == first
    assert fresh != first
