"""Crashes at fixed points (`FAULT_AT`, P8): after a claim, after the invitation was sent and
after the rating was posted, a restarted worker finishes the work once."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from harness.processes import Service, fakes_process, free_port
from harness.waiting import wait_for
from storage.tables import JobState, SurveyState, utcnow
from tests.chaos.processes import (
    environment,
    invitations,
    only_job,
    open_survey,
    opened,
    posted_rates,
    register_bot,
    seed_rated,
    worker,
)
from tests.databases import jobs, surveys

pytestmark = pytest.mark.slow


def lease_ran_out(engine: Engine) -> bool:
    """Every pending job is free to claim again (its lease, if any, has run out)."""
    now = utcnow()
    return all(job.available_at <= now for job in jobs(engine) if job.state == JobState.PENDING)


def run_once(env: dict[str, str], log_path: Path, *, fault_at: str | None = None) -> int | None:
    """Run `python -m bridge.worker --once` to its end (with `fault_at`, the test-only worker
    that dies at that step: tests.chaos.faulty_worker); its exit code."""
    once = (
        worker(env, log_path, "--once")
        if fault_at is None
        else Service({**env, "FAULT_AT": fault_at}, log_path, module="tests.chaos.faulty_worker")
    )
    once.start()
    assert once.process is not None
    code = once.process.wait(120)
    once.stop()
    return code


def test_crash_after_claim_then_restart_invites_once(database_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes, opened(database_url) as engine:
        fakes.seed_tickets([301])
        port = free_port()
        register_bot(fakes, database_url, port)
        env = environment(fakes, database_url, port, JOB_LEASE="1s")
        open_survey(engine, database_url, 301)

        code = run_once(env, tmp_path / "faulty.log", fault_at="after_claim")

        assert code == 137
        job = only_job(engine)
        assert job.state == JobState.PENDING and job.lease_token is not None
        assert invitations(fakes)[301] == 0
        wait_for(lambda: lease_ran_out(engine), within=30, every=0.1)
        assert run_once(env, tmp_path / "restarted.log") == 0
        (survey,) = surveys(engine)
        assert survey.state == SurveyState.AWAITING and survey.message_id is not None
        assert invitations(fakes)[301] == 1
        assert only_job(engine).state == JobState.DONE


def test_crash_after_invitation_sent_is_the_known_duplicate_window(
    database_url: str, tmp_path: Path
) -> None:
    with fakes_process() as fakes, opened(database_url) as engine:
        fakes.seed_tickets([302])
        port = free_port()
        register_bot(fakes, database_url, port)
        env = environment(fakes, database_url, port, JOB_LEASE="1s")
        open_survey(engine, database_url, 302)

        code = run_once(env, tmp_path / "faulty.log", fault_at="after_vendor_call")

        assert code == 137
        assert invitations(fakes)[302] == 1  # Bitrix24 has it, our commit never happened
        (survey,) = surveys(engine)
        assert survey.state == SurveyState.INVITING
        wait_for(lambda: lease_ran_out(engine), within=30, every=0.1)
        assert run_once(env, tmp_path / "restarted.log") == 0
        (survey,) = surveys(engine)
        sent = invitations(fakes)[302]
        print(f"\ncrash after the invitation was sent: {sent} invitation(s) for one ticket")
        assert survey.state == SurveyState.AWAITING
        assert survey.message_id == max(int(m) for m in fakes.state("bitrix")["messages"])
        assert sent in (1, 2)
        assert only_job(engine).state == JobState.DONE


def test_crash_after_rating_posted_does_not_post_again(database_url: str, tmp_path: Path) -> None:
    with fakes_process() as fakes, opened(database_url) as engine:
        fakes.seed_tickets([303])
        env = environment(fakes, database_url, free_port(), JOB_LEASE="1s")
        seed_rated(engine, [303], score=2)

        code = run_once(env, tmp_path / "faulty.log", fault_at="after_vendor_call")

        assert code == 137
        assert posted_rates(fakes) == {303: ["bad"]}
        (survey,) = surveys(engine)
        assert survey.rating_sent_at is None
        wait_for(lambda: lease_ran_out(engine), within=30, every=0.1)
        assert run_once(env, tmp_path / "restarted.log") == 0
        # Read-before-write: the retry sees the rating in Okdesk and does not post it again.
        assert posted_rates(fakes) == {303: ["bad"]}
        (survey,) = surveys(engine)
        assert survey.rating_sent_at is not None and survey.okdesk_rate == "bad"
        job = only_job(engine)
        assert job.state == JobState.DONE and job.attempts == 2
