"""Starting the service the way the README says: settings checked, example.env serves."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from harness.constants import ROOT
from harness.processes import Service, free_port


def test_missing_settings_stop_the_start_naming_each(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "OKDESK_URL": "ftp://nowhere"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    for name in (
        "OKDESK_URL",
        "OKDESK_API_TOKEN",
        "OKDESK_WEBHOOK_TOKEN",
        "BITRIX_WEBHOOK_URL",
        "BITRIX_CLIENT_ID",
        "BITRIX_EVENTS_TOKEN",
    ):
        assert name in done.stderr
    assert "Traceback" not in done.stderr


def test_example_env_starts_and_serves_with_a_placeholder_warning(tmp_path: Path) -> None:
    shutil.copy(ROOT / "example.env", tmp_path / ".env")
    port = free_port()
    service = Service({"PORT": str(port), "HOST": "127.0.0.1"}, tmp_path / "service.log")
    service.start()
    try:
        health = httpx.get(service.url + "/healthz").json()
        ready = httpx.get(service.url + "/readyz")
    finally:
        service.stop()
    log = (tmp_path / "service.log").read_text()
    assert health == {"status": "ok", "database": "ok"}
    assert ready.status_code == 503 and ready.json()["worker_last_run"] is None
    assert "still hold example values" in ready.json()["checks"]["settings"]
    assert "still hold example values" in log
    assert (tmp_path / "data" / "rating.db").exists()


def _run(module: str, cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_prints_help_instead_of_starting(tmp_path: Path) -> None:
    done = _run("bridge", tmp_path, "--help")
    assert done.returncode == 0
    assert "usage: python -m bridge" in done.stdout and "example.env" in done.stdout
    assert not (tmp_path / "data").exists()


def test_an_unreachable_database_stops_the_start_with_one_line(tmp_path: Path) -> None:
    shutil.copy(ROOT / "example.env", tmp_path / ".env")
    done = _run(
        "bridge",
        tmp_path,
        DATABASE_URL="postgresql://rating:secret-password@127.0.0.1:1/rating",
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line, *_) = [ln for ln in done.stderr.splitlines() if "cannot reach the database" in ln]
    assert "127.0.0.1:1/rating" in line and "secret-password" not in done.stderr


def test_migrate_reads_dot_env_and_says_which_database(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path / 'from-env.db'}\n")
    done = _run("storage.migrate", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"migrations applied to sqlite:///{tmp_path / 'from-env.db'}"
    assert (tmp_path / "from-env.db").exists()


def test_the_readme_start_command_keeps_an_existing_env(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "cp -n" not in readme
    copy = "{ [ -f .env ] || cp example.env .env; }"
    assert copy in readme
    shutil.copy(ROOT / "example.env", tmp_path / "example.env")
    (tmp_path / ".env").write_text("LANGUAGE=en\n")
    for _ in range(2):
        assert subprocess.run(["bash", "-c", copy], cwd=tmp_path, check=False).returncode == 0
    assert (tmp_path / ".env").read_text() == "LANGUAGE=en\n"
