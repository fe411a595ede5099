"""Starting the service the way the README says: settings checked, example.env serves."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from tests.processes import ROOT, Service, free_port


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
