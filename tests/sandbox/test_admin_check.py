"""The README's way to point the admin commands at the sandbox: `python -m sandbox` prints the
`--env-file` of its service, and `python -m bridge.admin --env-file … check` passes there, as a
newcomer's first check of a working setup."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from harness.waiting import wait_for
from sandbox.processes import ROOT
from tests.sandbox.running import sandbox_process


def test_admin_check_passes_against_the_sandbox_through_the_printed_env_file(
    tmp_path: Path,
) -> None:
    with sandbox_process(tmp_path) as running:
        wait_for(lambda: "--env-file" in running.output.read_text(), within=10)
        found = re.search(
            r"python -m bridge\.admin --env-file (\S+) check", running.output.read_text()
        )
        assert found is not None
        done = subprocess.run(
            [sys.executable, "-m", "bridge.admin", "--env-file", found.group(1), "check"],
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines and all(line.startswith(("ok  ", "info  ")) for line in lines), done.stdout
    assert any(line.startswith("ok    okdesk token") for line in lines)


def test_a_missing_env_file_is_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bridge.admin", "--env-file", "/nonexistent/.env", "status"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--env-file /nonexistent/.env: no such file" in done.stderr
    assert "Traceback" not in done.stderr
