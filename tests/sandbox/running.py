"""`python -m sandbox` as a person starts it, in a process of its own, and what it started."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.waiting import wait_for
from sandbox.processes import ROOT, free_port, process_env


@dataclass
class RunningSandbox:
    """The sandbox's process and its page's address."""

    process: subprocess.Popen[str]
    url: str
    output: Path


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (read from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def serves(url: str) -> bool:
    """Whether the page answers 200."""
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def interrupt(process: subprocess.Popen[str], within: float = 40.0) -> int:
    """Ctrl-C (SIGINT to the sandbox's process alone); its exit code."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def _serving(running: RunningSandbox) -> bool:
    """Whether the sandbox serves its page yet; an exited sandbox fails the wait at once."""
    if running.process.poll() is not None:
        raise AssertionError(f"the sandbox exited: {running.output.read_text()[-3000:]}")
    return serves(running.url)


@contextmanager
def sandbox_process(directory: Path, *args: str) -> Iterator[RunningSandbox]:
    """`python -m sandbox --no-browser --port P`, serving its page; stopped with Ctrl-C."""
    port = free_port()
    output = directory / "sandbox.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--no-browser", "--port", str(port), *args],
            cwd=ROOT,
            env=process_env({}),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = RunningSandbox(process, f"http://127.0.0.1:{port}/", output)
    try:
        wait_for(lambda: _serving(running), within=150, every=0.2)
        yield running
    finally:
        if process.poll() is None:
            interrupt(process)
