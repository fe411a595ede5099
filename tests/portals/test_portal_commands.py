"""`python -m bridge.admin portal …` as the operator runs it, against two fake portals: adding
a portal checks its webhook and registers its bot (twice is harmless; a busy portal is retried,
and after a refusal the same command again finishes it), the secrets are stored
sealed and never printed, companies are mapped, the list says what each portal is doing, and a
removed portal loses its bot and its waiting surveys while its history stays."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from storage.db import create_db_engine, transaction
from storage.portals import Portal
from tests.portals.running import two_portals


def _rows(url: str) -> dict[str, Portal]:
    engine = create_db_engine(url, pool_size=1)
    try:
        with transaction(engine) as session:
            return {p.name: p for p in session.exec(select(Portal)).all()}
    finally:
        engine.dispose()


def test_adding_a_portal_twice_registers_one_bot_and_prints_no_secret(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        first = portals.admin("portal", "add", "acme", portals.client_webhook)
        again = portals.admin("portal", "add", "acme", portals.client_webhook)
        bots = portals.fakes.state("bitrix:1")["bots"]
        rows = _rows(database_url)
    assert first.code == 0 and again.code == 0, first.out + again.out
    assert len(bots) == 1
    (bot,) = bots.values()
    acme = rows["acme"]
    assert acme.id == 1 and acme.domain == "127.0.0.1" and acme.state == "active"
    assert acme.bot_id == int(bot["ID"]) and f"bot {bot['ID']}" in first.out
    assert f"/api/v1/bitrix/portals/{acme.route_key}/events?token=" in bot["EVENT_HANDLER"]
    code = portals.client_webhook.rstrip("/").rsplit("/", 1)[-1]
    assert acme.webhook_url is not None and code not in acme.webhook_url
    assert code not in first.out and bot["CLIENT_ID"] not in first.out + again.out
    token = bot["EVENT_HANDLER"].split("token=")[1].split("&")[0]
    assert token not in first.out and acme.events_token is not None
    assert token not in acme.events_token
    assert set(rows) == {"default", "acme"} and rows["default"].id == 0


def test_adding_a_portal_needs_secrets_key_and_says_so_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        ran = portals.admin("portal", "add", "acme", portals.client_webhook, SECRETS_KEY="")
        bad_name = portals.admin("portal", "add", "Acme Inc", portals.client_webhook)
        bots = portals.fakes.state("bitrix:1")["bots"]
    assert ran.code == 2 and ran.out.count("\n") == 1 and "SECRETS_KEY is not set" in ran.out
    assert bad_name.code == 2 and "NAME must be" in bad_name.out
    assert bots == {}


def test_companies_are_mapped_listed_and_a_removed_portal_keeps_its_row(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        assert portals.admin("portal", "add", "acme", portals.client_webhook).code == 0
        assert portals.admin("portal", "map", "1001", "acme").code == 0
        assert portals.admin("portal", "map", "1002", "acme").code == 0
        unknown = portals.admin("portal", "map", "1003", "nobody")
        assert portals.admin("portal", "unmap", "1002").code == 0
        listed = portals.admin("portal", "list")
        removed = portals.admin("portal", "remove", "acme")
        bots = portals.fakes.state("bitrix:1")["bots"]
        after = portals.admin("portal", "list")
    assert unknown.code == 1 and "no portal named 'nobody'" in unknown.out
    line = next(row for row in listed.out.splitlines() if row.startswith("acme\t"))
    assert line.split("\t")[:5] == ["acme", "127.0.0.1", "active", "1", "0"]
    assert int(line.split("\t")[5]) > 0
    assert removed.code == 0 and "removed" in removed.out and bots == {}
    assert "acme\t127.0.0.1\tremoved" in after.out
    assert next(row for row in after.out.splitlines() if row.startswith("default\t"))


COMMAND_REGISTER = {"v1": "imbot.command.register", "v2": "imbot.v2.Command.register"}


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_after_a_refusal_midway_the_same_command_again_connects_the_portal(
    database_url: str, tmp_path: Path, api: str
) -> None:
    """The bot is registered, then its command refused: the bot stays in the portal under the
    portal's CLIENT_ID (v1) or bot token (v2). Before, the keys were made anew on the next try,
    and the portal refused them the bot (APP_ID_ERROR, BOT_OWNERSHIP_ERROR) for good."""
    with two_portals(database_url, tmp_path, api=api) as portals:
        portals.fakes.fail("bitrix:1", COMMAND_REGISTER[api], ["ACCESS_DENIED"])
        add = ("portal", "add", "acme", portals.client_webhook, "--api", api)
        refused = portals.admin(*add)
        kept = _rows(database_url)["acme"]
        listed = portals.admin("portal", "list")
        again = portals.admin(*add)
        bots = portals.fakes.state("bitrix:1")["bots"]
        acme = _rows(database_url)["acme"]
    assert refused.code == 1 and "ACCESS_DENIED" in refused.out
    assert "keys are kept: try it again" in refused.out
    assert kept.state == "removed" and kept.bot_id is None and kept.client_id
    assert "acme\t127.0.0.1\tremoved" in listed.out
    assert again.code == 0, again.out
    (bot,) = bots.values()
    assert acme.state == "active" and acme.bot_id == int(bot["ID"])


def test_a_busy_portal_is_asked_again_and_a_busy_removal_too(
    database_url: str, tmp_path: Path
) -> None:
    with two_portals(database_url, tmp_path) as portals:
        portals.fakes.fail("bitrix:1", "imbot.command.register", [503, 503])
        added = portals.admin("portal", "add", "acme", portals.client_webhook)
        portals.fakes.fail("bitrix:1", "imbot.bot.unregister", [503])
        removed = portals.admin("portal", "remove", "acme")
        bots = portals.fakes.state("bitrix:1")["bots"]
    assert added.code == 0, added.out
    assert removed.code == 0 and "unregistered" in removed.out, removed.out
    assert bots == {}
