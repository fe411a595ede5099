"""An installation of one portal upgrades with no step of its own: the database of one portal
and the `.env` it ran on, started as they are (no SECRETS_KEY), store the settings' portal as
`default`, with no secret of it stored, and keep asking people there."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
from alembic import command
from sqlalchemy import text
from sqlmodel import select

from harness.payloads import closed_webhook
from harness.processes import Service, fakes_process, free_port, register_bot, service_env
from harness.waiting import wait_for
from storage.db import create_db_engine, transaction
from storage.migrate import alembic_config
from storage.portals import Portal
from storage.tables import Survey
from tests.databases import surveys


def _one_portal_database(url: str) -> None:
    """The schema of the release before several portals, with a survey waiting for user 27."""
    command.downgrade(alembic_config(url), "0014")
    engine = create_db_engine(url, pool_size=1)
    now = datetime.now(UTC)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO survey (token, issue_id, current_issue_id, state, language, "
                    "is_test, bitrix_user_id, message_id, automatic, created_at, updated_at, "
                    "personal_data_purged, changing, followup_answers, changes_made) VALUES "
                    "('t0ken', 7, 7, 'awaiting', 'ru', false, 27, 84400, false, :now, :now, "
                    "false, false, 0, 0)"
                ),
                {"now": now},
            )
    finally:
        engine.dispose()


def _portals(url: str) -> list[Portal]:
    engine = create_db_engine(url, pool_size=1)
    try:
        with transaction(engine) as session:
            return list(session.exec(select(Portal)).all())
    finally:
        engine.dispose()


def test_the_settings_portal_becomes_default_at_the_first_start(
    database_url: str, tmp_path: Path
) -> None:
    _one_portal_database(database_url)
    with fakes_process() as fakes:
        fakes.seed_tickets([101])
        env = service_env(fakes, database_url, free_port())
        assert "SECRETS_KEY" not in env
        register_bot(env, tmp_path)
        service = Service(env, tmp_path / "service.log")
        for _start in range(2):  # a restart adds nothing
            service.start()
            service.stop()
        (default,) = _portals(database_url)
        assert (default.id, default.name, default.state) == (0, "default", "active")
        assert (default.domain, default.api, default.bot_code) == (
            "127.0.0.1",
            "v1",
            "okdesk_rating",
        )
        secrets = (default.webhook_url, default.client_id, default.events_token, default.bot_token)
        assert secrets == (None, None, None, None)
        service.start()
        try:
            assert service.senders().webhook(closed_webhook(101)).status_code == 200
            wait_for(
                lambda: any(
                    s.issue_id == 101 and s.bitrix_user_id == 27 for s in _all(database_url)
                )
            )
        finally:
            service.stop()
    log = (tmp_path / "service.log").read_text()
    assert "Traceback" not in log
    assert fakes.bitrix_webhook.split("/")[-2] not in log


def _all(url: str) -> list[Survey]:
    engine = create_db_engine(url, pool_size=1)
    try:
        return list(surveys(engine))
    finally:
        engine.dispose()


def test_a_blocked_portal_and_a_deleted_bot_of_one_portal_become_defaults_state(
    database_url: str, tmp_path: Path
) -> None:
    # An older release kept both as facts of the one service: they are default's now.
    _one_portal_database(database_url)
    probe_at = datetime(2099, 1, 1, tzinfo=UTC)
    engine = create_db_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO service_status (key, value, updated_at) VALUES "
                    "('portal_blocked', :probe, :now), ('bot_deleted', :now_text, :now)"
                ),
                {"probe": probe_at.isoformat(), "now": probe_at, "now_text": "2026-12-01"},
            )
    finally:
        engine.dispose()
    with fakes_process() as fakes:
        env = service_env(fakes, database_url, free_port())
        service = Service(env, tmp_path / "service.log")
        service.start()
        try:
            ready = httpx.get(service.url + "/readyz")
        finally:
            service.stop()
    (default,) = _portals(database_url)
    assert (default.state, default.blocked_until) == ("bot_deleted", probe_at)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["bot"].startswith("deleted at") and "OVERLOAD_LIMIT" in checks["portal"]
    assert ready.json()["portals"] == {"default": f"bot_deleted until {probe_at.isoformat()}"}
    engine = create_db_engine(database_url, pool_size=1)
    try:
        with engine.begin() as connection:
            keys = connection.execute(text("SELECT key FROM service_status")).scalars().all()
    finally:
        engine.dispose()
    assert not {"portal_blocked", "bot_deleted"} & set(keys)
