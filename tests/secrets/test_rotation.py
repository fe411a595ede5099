"""Issue 23, point 4: the events secret changes with no event lost (`python -m bot.register
--rotate`, then `--rotate --bind`): the service accepts the old token beside the new one while
the portal's handlers move, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot import rotation
from bot.register import register
from bot.settings import SettingsError
from bot.v2.register_v2 import register_v2
from bridge.config.settings import Settings
from harness.app import Running, running_app
from harness.constants import EVENTS_TOKEN, ROOT, USER_ID
from harness.payloads import closed_webhook
from harness.v2 import bitrix_client, portal, v2_settings, v2_vendors
from harness.vendors import Vendors, make_settings
from harness.waiting import eventually
from storage.tables import SurveyState
from tests.databases import surveys

pytestmark = pytest.mark.anyio
NEW_TOKEN = "new-events-secret-abcdefghij0123456789"
FORM = {"content-type": "application/x-www-form-urlencoded"}
V2_EVENTS = "/api/v1/bitrix/v2/events"


def _rotating(database_url: str, **overrides: object) -> Settings:
    """Step 2 done: the service runs with the new token and the old one beside it."""
    return make_settings(
        database_url,
        bitrix_events_token=NEW_TOKEN,
        bitrix_events_token_previous=EVENTS_TOKEN,
        **overrides,
    )


async def _post_to(app: Running, handler: str, body: bytes) -> int:
    """What the portal does: POST the event to the handler URL it has bound."""
    url = httpx.URL(handler)
    answer = await app.client.post(url.path, params=url.params, content=body, headers=FORM)
    return answer.status_code


async def test_a_rotation_loses_no_event_before_or_after_the_handlers_move(
    database_url: str, engine: Engine, vendors: Vendors
) -> None:
    rotating = _rotating(database_url)
    async with running_app(rotating, vendors) as app:
        await app.webhook(closed_webhook())
        await eventually(
            lambda: surveys(engine) and surveys(engine)[0].state == SurveyState.AWAITING
        )
        message_id = surveys(engine)[0].message_id or 0
        body = vendors.bitrix.click(message_id, int(USER_ID), 4)
        assert body is not None
        old_handler = vendors.bitrix.handler("ONIMCOMMANDADD", message_id=message_id)
        assert f"token={EVENTS_TOKEN}" in old_handler
        # Before the handlers move, the portal still posts with the old token: accepted.
        assert await _post_to(app, old_handler, body) == 200
        await eventually(lambda: surveys(engine)[0].score == 5)

        async with httpx.AsyncClient(transport=vendors.transport) as http:
            rotation.check_bind(rotating)
            await register(bitrix_client(http), rotating)

        handlers = [
            vendors.bitrix.handler("ONIMCOMMANDADD", message_id=message_id),
            vendors.bitrix.handler("ONIMBOTMESSAGEADD"),
            vendors.bitrix.handler("ONIMBOTJOINCHAT"),
            vendors.bitrix.handler("ONIMBOTDELETE"),
        ]
        assert all(f"token={NEW_TOKEN}&" in url for url in handlers), handlers
        # After they move, the portal posts with the new token: accepted too.
        assert await _post_to(app, handlers[0], body) == 200
        # One rating reached Okdesk, whichever handler its click came through.
        await eventually(lambda: [b["rate"] for _i, b in vendors.okdesk.rate_posts] == ["good"])
    assert [b["rate"] for _i, b in vendors.okdesk.rate_posts] == ["good"]

    # Step 4: BITRIX_EVENTS_TOKEN_PREVIOUS deleted, restarted: the old URL is refused.
    done = make_settings(database_url, bitrix_events_token=NEW_TOKEN)
    async with running_app(done, vendors) as app:
        assert await _post_to(app, old_handler, body) == 403
        assert await _post_to(app, handlers[0], body) == 200


async def test_any_other_token_is_refused_during_a_rotation(
    database_url: str, vendors: Vendors
) -> None:
    async with running_app(_rotating(database_url), vendors) as app:
        answer = await app.event(b"event=ONIMBOTMESSAGEADD", token="forged-token-0000000000")
    assert answer.status_code == 403


async def test_binding_moves_the_v2_webhook_url_and_fetch_mode_has_nothing_to_bind(
    database_url: str,
) -> None:
    mode = {"bitrix_event_mode": "webhook", "public_url": "https://rating.acme.example/"}
    vendors = await v2_vendors(database_url, **mode)
    (bot,) = portal(vendors).bots.values()
    assert f"token={EVENTS_TOKEN}" in bot["WEBHOOK_URL"]
    rotating = v2_settings(
        database_url,
        **mode,
        bitrix_events_token=NEW_TOKEN,
        bitrix_events_token_previous=EVENTS_TOKEN,
    )
    assert rotation.nothing_to_bind(rotating) is None
    async with httpx.AsyncClient(transport=vendors.transport) as http:
        await register_v2(bitrix_client(http), rotating)
    assert bot["WEBHOOK_URL"].endswith(f"/api/v1/bitrix/v2/events?token={NEW_TOKEN}")

    fetching = v2_settings(database_url, bitrix_events_token_previous=EVENTS_TOKEN)
    said = rotation.nothing_to_bind(fetching) or ""
    assert said.startswith("Nothing to rebind") and "no handler URL" in said


def test_rotate_prints_a_new_url_safe_token_and_the_old_one(database_url: str) -> None:
    said = rotation.start(make_settings(database_url), rotation.new_events_token())
    (new,) = re.findall(r"^BITRIX_EVENTS_TOKEN=(.*)$", said, flags=re.MULTILINE)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32,}", new) and new != EVENTS_TOKEN
    assert f"\nBITRIX_EVENTS_TOKEN_PREVIOUS={EVENTS_TOKEN}\n" in said
    assert rotation.new_events_token() != rotation.new_events_token()


def test_a_rotation_under_way_is_finished_before_another_starts(database_url: str) -> None:
    with pytest.raises(SettingsError, match="--rotate --bind"):
        rotation.start(_rotating(database_url), rotation.new_events_token())
    with pytest.raises(SettingsError, match="BITRIX_EVENTS_TOKEN_PREVIOUS is not set"):
        rotation.check_bind(make_settings(database_url))


def test_the_previous_token_is_hidden_from_the_logs(database_url: str) -> None:
    assert EVENTS_TOKEN in _rotating(database_url).secrets()


ENV = """\
BITRIX_WEBHOOK_URL=https://acme.bitrix24.ru/rest/1/hooktoken/
BITRIX_CLIENT_ID=rating-bot-acme
BITRIX_EVENTS_TOKEN={token}
PUBLIC_URL=https://rating.acme.example/
"""


def _register(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.register", *argv],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_prints_the_two_lines_and_refuses_steps_out_of_order(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(ENV.format(token=EVENTS_TOKEN))
    printed = _register(tmp_path, "--rotate")
    assert printed.returncode == 0, printed.stderr
    lines = [line for line in printed.stdout.splitlines() if line.startswith("BITRIX_")]
    assert [line.split("=")[0] for line in lines] == [
        "BITRIX_EVENTS_TOKEN",
        "BITRIX_EVENTS_TOKEN_PREVIOUS",
    ]
    assert lines[1] == f"BITRIX_EVENTS_TOKEN_PREVIOUS={EVENTS_TOKEN}"

    unbound = _register(tmp_path, "--rotate", "--bind")
    assert unbound.returncode == 2 and "run `python -m bot.register --rotate`" in unbound.stderr

    (tmp_path / ".env").write_text(ENV.format(token=NEW_TOKEN) + "\n".join(lines[1:]) + "\n")
    again = _register(tmp_path, "--rotate")
    assert again.returncode == 2 and "a rotation is under way" in again.stderr
    assert EVENTS_TOKEN not in again.stderr + unbound.stderr


async def test_the_v2_webhook_route_accepts_both_tokens_during_a_rotation(
    database_url: str,
) -> None:
    mode = {"bitrix_event_mode": "webhook", "public_url": "https://rating.acme.example/"}
    vendors = await v2_vendors(database_url, **mode)
    rotating = v2_settings(
        database_url,
        **mode,
        bitrix_events_token=NEW_TOKEN,
        bitrix_events_token_previous=EVENTS_TOKEN,
    )
    async with running_app(rotating, vendors) as app:
        statuses = [
            (await app.client.post(V2_EVENTS, params={"token": token}, headers=FORM)).status_code
            for token in (EVENTS_TOKEN, NEW_TOKEN, "forged-token-0000000000")
        ]
    # Past the secret, an empty body is unreadable (400); a wrong secret stops at 403.
    assert statuses == [400, 400, 403]
