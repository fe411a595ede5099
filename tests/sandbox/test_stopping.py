"""`python -m sandbox` stops its whole tree however it is stopped, and says what to do when its
port is taken."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from sandbox.processes import ROOT, process_env
from tests.sandbox.running import children, sandbox_process


def test_sigterm_stops_the_fakes_and_the_service_as_ctrl_c_does(tmp_path: Path) -> None:
    with sandbox_process(tmp_path) as running:
        started = children(running.process.pid)
        assert len(started) == 2, "the fakes and the service run as its children"
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(40) == 0
    assert not {pid for pid in started if Path(f"/proc/{pid}").exists()}, "orphans left running"
    assert "Traceback" not in running.output.read_text()


def test_a_port_in_use_is_one_line_that_names_the_port_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        finished = subprocess.run(
            [sys.executable, "-m", "sandbox", "--no-browser", "--port", str(port)],
            cwd=ROOT,
            env=process_env({}),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert finished.returncode == 2
    assert "Traceback" not in finished.stderr + finished.stdout
    assert f"{port}" in finished.stderr and "--port" in finished.stderr
