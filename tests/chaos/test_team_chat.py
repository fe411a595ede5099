"""The team's chat under crashes and replicas: a worker killed between Bitrix24 taking an alert
and recording it leaves the alert posted once (the restarted worker never posts it again), and
two workers on one database post each alert once. Workers are processes, the portal the fake
as a process, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from harness.processes import Fakes, fakes_process, free_port
from harness.waiting import wait_for
from storage import queue
from storage.db import transaction
from storage.tables import JobKind, JobState, utcnow
from storage.team import posts
from tests.chaos.processes import (
    GENTLY,
    environment,
    opened,
    rated_survey,
    register_bot,
    settled,
    worker,
)
from tests.chaos.test_crash_points import lease_ran_out, run_once
from tests.databases import jobs

pytestmark = pytest.mark.slow
TEAM_CHAT = "chat1157"
CHAT = {"ID": 1157, "TITLE": "Поддержка", "USERS": [52], "BOT_CODES": ["okdesk_rating"]}


def seed_low_ratings(engine: Engine, issue_ids: Iterable[int], jobs_each: int = 1) -> None:
    """People's ratings of 2, already in Okdesk, each with its alert opened and queued, as the
    answer's transaction leaves them (`jobs_each` 2: the follow-up's edit queued too)."""
    now = utcnow()
    with transaction(engine) as session:
        rated = [
            rated_survey(issue_id, now, 2, engineer="Алексей Карпенко", rating_sent_at=now)
            for issue_id in issue_ids
        ]
        session.add_all(rated)
        session.flush()
        for survey in rated:
            assert survey.id is not None
            key = posts.alert_key(survey.id)
            posts.open_message(session, key=key, survey_id=survey.id, now=now)
            for _ in range(jobs_each):
                queue.enqueue(session, kind=JobKind.ALERT, now=now, survey_id=survey.id)


def alerts_posted(fakes: Fakes) -> Counter[str]:
    """Messages in the team's chat, per ticket they name."""
    found: Counter[str] = Counter()
    for message in fakes.state("bitrix")["messages"].values():
        if message["DIALOG_ID"] == TEAM_CHAT:
            found[str(message["MESSAGE"]).split("№")[1].split("[")[0]] += 1
    return found


def team_env(fakes: Fakes, database_url: str, port: int, **extra: str) -> dict[str, str]:
    return environment(fakes, database_url, port, ALERT_DIALOG_ID=TEAM_CHAT, **extra)


def test_a_kill_between_posting_the_alert_and_recording_it_leaves_one_alert(
    database_url: str, tmp_path: Path
) -> None:
    with fakes_process() as fakes, opened(database_url) as engine:
        fakes.seed("bitrix", {"chats": [CHAT]})
        port = free_port()
        register_bot(fakes, database_url, port)
        env = team_env(fakes, database_url, port, JOB_LEASE="1s")
        seed_low_ratings(engine, [401])

        assert run_once(env, tmp_path / "faulty.log", fault_at="after_vendor_call") == 137
        assert alerts_posted(fakes) == {"401": 1}  # Bitrix24 has it; our commit never happened
        wait_for(lambda: lease_ran_out(engine), within=30, every=0.1)
        assert run_once(env, tmp_path / "restarted.log") == 0

        assert alerts_posted(fakes) == {"401": 1}
        (job,) = jobs(engine)
        assert job.state == JobState.DONE and job.attempts == 2
        with transaction(engine) as session:
            (row,) = [posts.message(session, key=posts.alert_key(job.survey_id or 0))]
        assert row is not None and row.unsure_at is not None and row.sending_lease is None


def test_two_workers_post_each_alert_once_though_two_jobs_race_for_it(
    database_url: str, tmp_path: Path
) -> None:
    tickets = list(range(501, 541))
    with fakes_process("--latency", "0.05") as fakes, opened(database_url) as engine:
        fakes.seed("bitrix", {"chats": [CHAT]})
        port = free_port()
        register_bot(fakes, database_url, port)
        env = team_env(fakes, database_url, port)
        workers = [worker(env, tmp_path / f"worker{n}.log") for n in range(2)]
        try:
            for each in workers:
                each.start()
            seed_low_ratings(engine, tickets, jobs_each=2)
            wait_for(lambda: settled(engine), within=120, every=GENTLY)
        finally:
            codes = [each.stop() for each in workers]

        assert codes == [0, 0]
        posted = alerts_posted(fakes)
        assert sorted(int(t) for t in posted) == tickets and set(posted.values()) == {1}
        done = jobs(engine)
        assert {job.state for job in done} == {JobState.DONE} and len(done) == 2 * len(tickets)
        busy = sum(job.attempts - 1 for job in done)
        print(f"\ntwo workers, {len(done)} alert jobs: {busy} waited for the other's post")
