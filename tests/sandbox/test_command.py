"""`python -m sandbox --no-browser --port P` starts the fakes and the service, serves its page
at the address it prints, and Ctrl-C stops the whole tree."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.harness.waiting import wait_for
from tests.sandbox.running import children, interrupt, sandbox_process


def test_the_sandbox_serves_its_page_and_stops_its_whole_tree_on_ctrl_c(tmp_path: Path) -> None:
    with sandbox_process(tmp_path) as running:
        started = children(running.process.pid)
        page = httpx.get(running.url, timeout=10)
        wait_for(lambda: running.url in running.output.read_text(), within=10)
        assert page.status_code == 200
        assert "Закрыть" in page.text and "Касса не печатает чек" in page.text
        assert len(started) == 2, "the fakes and the service run as its children"
        assert interrupt(running.process) == 0
    assert not {pid for pid in started if Path(f"/proc/{pid}").exists()}
    assert "Traceback" not in running.output.read_text()
