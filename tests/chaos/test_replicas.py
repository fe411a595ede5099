"""Replicas (P9, P10): four workers on one PostgreSQL, a frozen worker whose lease ran out, a
job slower than its lease, two processes on one SQLite file; each rating is sent once."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from harness.processes import Service, fakes_process, free_port
from harness.waiting import wait_for
from storage.db import transaction
from storage.tables import Job, JobState, Survey, SurveyState
from tests.chaos.processes import (
    GENTLY,
    close_tickets,
    environment,
    invitations,
    is_final,
    log_of,
    only_job,
    open_survey,
    opened,
    rate_posts,
    register_bot,
    seed_rated,
    set_latency,
    settled,
    stopped_gracefully,
    worker,
)
from tests.databases import jobs, surveys

pytestmark = pytest.mark.slow


def columns(row: Survey | Job) -> dict[str, object]:
    """A row's column values, for comparing two reads of it."""
    return {name: getattr(row, name) for name in type(row).model_fields}


# --- 2. replicas (P9, P10) ---------------------------------------------------------------------


def wait_started(*processes: Service) -> None:
    """Wait until each worker logged its start."""
    wait_for(lambda: all("worker.started" in log_of(p) for p in processes), within=60, every=0.1)


def test_four_workers_on_postgresql_send_each_rating_once(
    postgres_url: str, tmp_path: Path
) -> None:
    tickets = list(range(10_001, 11_001))
    with fakes_process("--latency", "0.02") as fakes, opened(postgres_url) as engine:
        fakes.seed_tickets(tickets)
        env = environment(fakes, postgres_url, free_port())
        workers = [worker(env, tmp_path / f"worker{n}.log") for n in range(4)]
        try:
            for each in workers:
                each.start()
            wait_started(*workers)
            seed_rated(engine, tickets)
            wait_for(lambda: settled(engine), within=180, every=GENTLY)
        finally:
            codes = [each.stop() for each in workers]

        ran = [log_of(each).count("survey.rating_sent") for each in workers]
        print(f"\nfour workers, 1000 jobs: ratings sent per worker {ran}")
        assert codes == [0, 0, 0, 0]
        assert {j.state for j in jobs(engine)} == {JobState.DONE}
        assert len(jobs(engine)) == len(tickets)
        assert all(
            s.rating_sent_at is not None and s.okdesk_rate == "good" for s in surveys(engine)
        )
        posts = rate_posts(fakes)
        assert sorted(posts) == tickets and set(posts.values()) == {1}
        assert sum(ran) == len(tickets)  # no job ran twice
        assert sum(1 for n in ran if n) >= 2  # the work was shared


def test_frozen_worker_past_its_lease_changes_nothing(postgres_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes, opened(postgres_url) as engine:
        fakes.seed_tickets([501])
        env = environment(fakes, postgres_url, free_port())
        frozen = worker(env, tmp_path / "frozen.log", JOB_LEASE="2s")
        rescuer = worker(env, tmp_path / "rescuer.log")
        try:
            frozen.start()
            wait_started(frozen)
            # Its first request (the read a retry makes before writing) takes long: the
            # rescuer rates the ticket before it is answered. A person's first try writes
            # at once, and a write already on its way when the worker froze may land after
            # the rescuer's read: the same rating posted twice (docs/reliability.md).
            set_latency(fakes, "okdesk", 8.0)
            seed_rated(engine, [501], score=5)
            _tried_once(engine)
            wait_for(lambda: fakes.state("okdesk")["requests"] >= 1, within=30)
            frozen.send(signal.SIGSTOP)
            set_latency(fakes, "okdesk", 0.0)
            rescuer.start()
            wait_for(lambda: settled(engine), within=60, every=0.1)
            (rescued,) = surveys(engine)
            assert rate_posts(fakes) == {501: 1}
            job = only_job(engine)
            assert job.state == JobState.DONE and job.attempts == 3
            assert "job.lease_lost" not in log_of(frozen)

            frozen.send(signal.SIGCONT)
            wait_for(lambda: "job.lease_lost" in log_of(frozen), within=60, every=0.1)
        finally:
            frozen.send(signal.SIGCONT)
            codes = [frozen.stop(), rescuer.stop()]

        assert codes == [0, 0]
        # The frozen worker's late completion changed nothing: one POST, the rescuer's result.
        assert rate_posts(fakes) == {501: 1}
        assert columns(only_job(engine)) == columns(job)
        (survey,) = surveys(engine)
        assert columns(survey) == columns(rescued) and survey.okdesk_rate == "good"
        assert log_of(rescuer).count("survey.rating_sent") == 1


def test_a_job_slower_than_its_lease_is_not_run_twice(sqlite_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes, opened(sqlite_url) as engine:
        fakes.seed_tickets([801])
        port = free_port()
        register_bot(fakes, sqlite_url, port)
        env = environment(fakes, sqlite_url, port, JOB_LEASE="2s")
        alone = worker(env, tmp_path / "worker.log")
        try:
            alone.start()
            wait_started(alone)
            # The contact lookup takes longer than the lease; the worker is alive throughout.
            set_latency(fakes, "okdesk", 3.0)
            open_survey(engine, sqlite_url, 801)
            wait_for(
                lambda: fakes.state("okdesk")["requests"] >= 2 or settled(engine),
                within=30,
                every=0.1,
            )
            set_latency(fakes, "okdesk", 0.0)
            wait_for(lambda: settled(engine), within=60, every=0.1)
        finally:
            code = alone.stop()  # SIGTERM: the runs still in flight end first

        assert code == 0
        (survey,) = surveys(engine)
        print(f"\na job slower than its lease: {invitations(fakes)[801]} invitations")
        assert survey.state == SurveyState.AWAITING
        assert invitations(fakes)[801] == 1


def _assert_no_lock_trouble(logs: list[str]) -> None:
    """Neither process met a locked database, a crashed job or an unavailable storage."""
    for log in logs:
        assert "database is locked" not in log
        assert "job.crashed" not in log and "storage.unavailable" not in log


def test_two_processes_on_one_sqlite_file_share_the_work(sqlite_url: str, tmp_path: Path) -> None:
    rated = list(range(20_001, 20_301))
    closed = list(range(21_001, 21_101))
    with fakes_process("--latency", "0.01") as fakes, opened(sqlite_url) as engine:
        fakes.seed_tickets(rated + closed)
        port = free_port()
        register_bot(fakes, sqlite_url, port)
        unlimited = {"BITRIX_BURST": "100000", "BITRIX_REQUESTS_PER_SECOND": "10000"}
        env = environment(fakes, sqlite_url, port, **unlimited)
        web = Service(env, tmp_path / "service.log")
        alone = worker(env, tmp_path / "worker.log")
        try:
            web.start()
            alone.start()
            wait_started(web, alone)
            seed_rated(engine, rated)
            assert close_tickets(web, closed) == ["accepted"] * len(closed)
            wait_for(
                lambda: (
                    settled(engine)
                    and sum(1 for s in surveys(engine) if is_final(s) or s.message_id) == 400
                ),
                within=180,
                every=GENTLY,
            )
        finally:
            codes = [web.stop(), alone.stop()]

        logs = [log_of(web), log_of(alone)]
        shares = [(log.count("survey.rating_sent"), log.count("survey.invited")) for log in logs]
        print(f"\ntwo processes on one SQLite file: (ratings, invitations) per process {shares}")
        assert stopped_gracefully(codes[0], logs[0]) and codes[1] == 0
        _assert_no_lock_trouble(logs)
        assert {j.state for j in jobs(engine)} == {JobState.DONE}
        posts = rate_posts(fakes)
        assert sorted(posts) == rated and set(posts.values()) == {1}
        sent = invitations(fakes)
        assert sorted(sent) == closed and set(sent.values()) == {1}
        assert sum(r for r, _ in shares) == len(rated)
        assert sum(i for _, i in shares) == len(closed)


def _tried_once(engine: Engine) -> None:
    """The one job has had a try already (Okdesk timed out): its next try is a retry."""
    with transaction(engine) as session:
        session.execute(
            update(Job).values(attempts=1, last_error="Okdesk rating: timed out (ReadTimeout)")
        )
