"""Graceful stop (P16): SIGTERM finishes or hands back the jobs in flight, and `python -m
bridge` exits 0."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from harness.processes import Service, fakes_process, free_port
from harness.waiting import wait_for
from storage.tables import JobState
from tests.chaos.processes import (
    GENTLY,
    environment,
    log_of,
    opened,
    rate_posts,
    seed_rated,
    set_latency,
    settled,
    stopped_gracefully,
)
from tests.databases import jobs, surveys

pytestmark = pytest.mark.slow


# --- 3. graceful stop (P16) ---------------------------------------------------------------------


def test_sigterm_finishes_jobs_in_flight_and_leaves_none_leased(
    database_url: str, tmp_path: Path
) -> None:
    tickets = list(range(601, 609))
    with fakes_process("--latency", "1") as fakes, opened(database_url) as engine:
        fakes.seed_tickets(tickets)
        env = environment(fakes, database_url, free_port(), OKDESK_MAX_IN_FLIGHT="4")
        svc = Service(env, tmp_path / "service.log")
        svc.start()
        try:
            seed_rated(engine, tickets)
            wait_for(lambda: fakes.state("okdesk")["requests"] >= 4, within=30)
            code = svc.stop(signal.SIGTERM, within=60)

            assert stopped_gracefully(code, log_of(svc))
            after_stop = jobs(engine)
            finished = {j.id for j in after_stop if j.state == JobState.DONE}
            waiting = [j for j in after_stop if j.state == JobState.PENDING]
            print(f"\nSIGTERM with jobs in flight: {len(finished)} finished, {len(waiting)} queued")
            assert len(finished) == 4  # the four in flight were let finish
            assert all(j.lease_token is None for j in waiting)
            assert sum(rate_posts(fakes).values()) == 4

            set_latency(fakes, "okdesk", 0.0)
            svc.start()
            wait_for(lambda: settled(engine), within=60, every=GENTLY)
        finally:
            svc.stop()

        assert {j.state for j in jobs(engine)} == {JobState.DONE}
        assert all(j.attempts == 1 for j in jobs(engine))
        posts = rate_posts(fakes)
        assert sorted(posts) == tickets and set(posts.values()) == {1}


def test_sigterm_with_short_grace_hands_the_jobs_back(database_url: str, tmp_path: Path) -> None:
    tickets = list(range(701, 704))
    with fakes_process("--latency", "2") as fakes, opened(database_url) as engine:
        fakes.seed_tickets(tickets)
        env = environment(fakes, database_url, free_port(), SHUTDOWN_GRACE="0.5s")
        svc = Service(env, tmp_path / "service.log")
        svc.start()
        try:
            seed_rated(engine, tickets)
            wait_for(lambda: fakes.state("okdesk")["requests"] >= 3, within=30)
            code = svc.stop(signal.SIGTERM, within=60)

            assert stopped_gracefully(code, log_of(svc))
            assert "worker.released jobs=3" in log_of(svc)
            handed_back = jobs(engine)
            assert {j.state for j in handed_back} == {JobState.PENDING}
            assert all(j.lease_token is None and j.attempts == 0 for j in handed_back)

            set_latency(fakes, "okdesk", 0.0)
            svc.start()
            wait_for(lambda: settled(engine), within=60, every=GENTLY)
        finally:
            svc.stop()

        assert {j.state for j in jobs(engine)} == {JobState.DONE}
        posts = rate_posts(fakes)
        assert sorted(posts) == tickets and set(posts.values()) == {1}
        assert all(s.rating_sent_at is not None for s in surveys(engine))


def test_sigterm_stops_the_service_with_exit_code_zero(sqlite_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes:
        svc = Service(environment(fakes, sqlite_url, free_port()), tmp_path / "service.log")
        svc.start()
        assert svc.stop(signal.SIGTERM) == 0
