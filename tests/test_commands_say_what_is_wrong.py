"""Each command says what is wrong in one line, at once, instead of a traceback or a slow failure:
example values left in `.env`, or a database of a kind the service does not support."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.admin.__main__ import COMMANDS
from bridge.config.settings import Settings
from harness.app import running_app
from harness.constants import ROOT
from harness.vendors import Vendors, make_settings


def _run(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [["bridge.admin", "check"], ["bridge.admin", "send-test", "you@company.ru"], ["bot.register"]],
)
def test_example_values_stop_a_command_that_would_call_the_vendors(
    tmp_path: Path, argv: list[str]
) -> None:
    shutil.copy(ROOT / "example.env", tmp_path / ".env")
    done = _run(tmp_path, *argv)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "example values" in line and "BITRIX_WEBHOOK_URL" in line
    assert not (tmp_path / "data").exists(), "nothing was started"


@pytest.mark.parametrize("argv", [["bridge"], ["bridge.admin", "status"], ["storage.migrate"]])
def test_an_unsupported_database_kind_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    shutil.copy(ROOT / "example.env", tmp_path / ".env")
    done = _run(tmp_path, *argv, DATABASE_URL="mysql://rating:secret@db/rating")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "DATABASE_URL" in done.stderr and "mysql:// is not supported" in done.stderr
    assert "secret" not in done.stderr


@pytest.mark.anyio
@pytest.mark.parametrize(("language", "admin_token"), [("ru", "a" * 32), ("en", None)])
async def test_the_front_door_names_the_service_and_links_to_what_answers(
    database_url: str, vendors: Vendors, language: str, admin_token: str | None
) -> None:
    settings = make_settings(database_url, language=language, admin_token=admin_token)
    async with running_app(settings, vendors) as app:
        page = await app.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'href="/healthz"' in page.text and 'href="/readyz"' in page.text
    assert ('href="/admin"' in page.text) == (admin_token is not None)
    assert ("Оценка заявок" in page.text) == (language == "ru")


REQUIRED = [name.upper() for name, field in Settings.model_fields.items() if field.is_required()]


@pytest.mark.parametrize(
    ("argv", "required"),
    [
        (["bridge"], REQUIRED),
        (["bridge.worker"], REQUIRED),
        (["bridge.admin"], REQUIRED),
        *[(["bridge.admin", name], REQUIRED) for name in COMMANDS],
        (["storage.migrate"], ["DATABASE_URL"]),
        (["sandbox"], []),
        (["bot.register"], ["BITRIX_WEBHOOK_URL", "BITRIX_EVENTS_TOKEN", "PUBLIC_URL"]),
    ],
)
def test_every_help_says_which_settings_it_needs_and_what_it_prints(
    tmp_path: Path, argv: list[str], required: list[str]
) -> None:
    done = _run(tmp_path, *argv, "--help")
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "settings:" in said and "Prints:" in said
    for name in required:
        assert name in said, name
