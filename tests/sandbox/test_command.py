"""`python -m sandbox --no-browser --port P` starts the fakes and the service, serves its page
at the address it prints, and Ctrl-C stops the whole tree."""

from __future__ import annotations

from pathlib import Path

import httpx

from harness.waiting import wait_for
from tests.sandbox.running import children, interrupt, sandbox_process


def test_the_sandbox_serves_its_page_and_stops_its_whole_tree_on_ctrl_c(tmp_path: Path) -> None:
    with sandbox_process(tmp_path) as running:
        started = children(running.process.pid)
        page = httpx.get(running.url, timeout=10)
        wait_for(lambda: running.url in running.output.read_text(), within=10)
        assert page.status_code == 200
        assert "Закрыть" in page.text and "Касса не печатает чек" in page.text
        assert 'data-api="v1"' in page.text and "imbot v1" in page.text
        assert len(started) == 2, "the fakes and the service run as its children"
        english = httpx.get(f"{running.url}?lang=en", timeout=60).text
        assert ">Close</button>" in english and "Rating timeout" in english
        # Without JavaScript a form posts and the page comes back (POST, then 303).
        plain = httpx.post(f"{running.url}close", data={"issue_id": "314602", "who": "44"})
        assert (plain.status_code, plain.headers["location"]) == (303, "/?who=44&lang=ru")
        assert interrupt(running.process) == 0
    assert not {pid for pid in started if Path(f"/proc/{pid}").exists()}
    assert "Traceback" not in running.output.read_text()


def _row(url: str, ticket: int) -> str:
    """One ticket's row of the Okdesk list, as the page draws it."""
    tickets = str(httpx.get(f"{url}panels?who=31", timeout=10).json()["tickets"])
    return tickets.split(f'id="ticket-{ticket}"')[1].split("</tr>")[0]


def test_the_knobs_reach_the_fakes_and_the_new_timeout_restarts_the_service(
    tmp_path: Path,
) -> None:
    fetch = {"x-sandbox": "fetch"}
    with sandbox_process(tmp_path) as running:
        knobs = "latency_ms=50&error_percent=20&rate_limit=on&burst=5&per_second=1"
        applied = httpx.post(
            f"{running.url}knobs",
            content=f"{knobs}&rating_timeout=2s&lang=en",
            headers={**fetch, "content-type": "application/x-www-form-urlencoded"},
            timeout=60,
        )
        assert applied.json()["note"] == "The service restarted with the rating timeout 2s"
        closed = httpx.post(f"{running.url}close", data={"issue_id": "314603"}, headers=fetch)
        assert closed.json() == {
            "note": "Okdesk отправил вебхук, сервис ответил 200; приглашение придёт в чат: "
            "Светлана Иванова",
            "who": 31,
        }
        # Nobody answers: after the timeout the default rating (5) reaches Okdesk as «good»,
        # through the 502s and the portal's limit, which the service retries.
        wait_for(lambda: ">хорошо</span>" in _row(running.url, 314603), within=60)
        assert "оценка по умолчанию" in _row(running.url, 314603)
        page = httpx.get(running.url, timeout=10).text
        assert 'value="2s"' in page and 'name="rate_limit" id="rate_limit" checked' in page
