"""Rate limit (P13): two services share the Bitrix24 request budget and invite everyone once."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from harness.processes import Service, fakes_process, free_port
from harness.waiting import wait_for
from storage.tables import JobState, SurveyState
from tests.chaos.processes import (
    GENTLY,
    close_tickets,
    environment,
    invitations,
    log_of,
    opened,
    register_bot,
    settled,
    stopped_gracefully,
)
from tests.databases import jobs, surveys

pytestmark = pytest.mark.slow


# --- 4. rate limit across replicas (P13) -----------------------------------------------------


# The fake's limits, so that the shared budget is what paces the two services.
BUDGET = {"BITRIX_BURST": "10", "BITRIX_REQUESTS_PER_SECOND": "2"}


def _close_through_both(replicas: list[Service], tickets: list[int]) -> list[str]:
    """Half the tickets closed through each replica at the same time; all the answers."""
    answers: list[list[str]] = [[], []]

    def deliver(n: int) -> None:
        answers[n] = close_tickets(replicas[n], tickets[n::2])

    senders = [threading.Thread(target=deliver, args=(n,)) for n in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(120)
    return answers[0] + answers[1]


def _all_invited(engine: Engine) -> bool:
    return settled(engine) and all(s.state == SurveyState.AWAITING for s in surveys(engine))


def test_two_services_share_the_bitrix_budget_and_invite_everyone_once(
    postgres_url: str, tmp_path: Path
) -> None:
    tickets = list(range(30_001, 30_301))
    limit = ("--rate-limit", "--burst", "10", "--drain-per-second", "2")
    with fakes_process(*limit) as fakes, opened(postgres_url) as engine:
        fakes.seed_tickets(tickets)
        ports = [free_port(), free_port()]
        register_bot(fakes, postgres_url, ports[0])
        replicas = [
            Service(environment(fakes, postgres_url, port, **BUDGET), tmp_path / f"svc{n}.log")
            for n, port in enumerate(ports)
        ]
        try:
            for replica in replicas:
                replica.start()
            answers = _close_through_both(replicas, tickets)
            wait_for(lambda: _all_invited(engine), within=180, every=GENTLY)
        finally:
            codes = [replica.stop() for replica in replicas]

        state = fakes.state("bitrix")
        shares = [log_of(replica).count("survey.invited") for replica in replicas]
        print(
            f"\nrate limit, two replicas, 300 closures: rejected_for_limit="
            f"{state['rejected_for_limit']} bitrix_calls={state['calls']} "
            f"by_method={state['calls_by_method']} invitations_per_replica={shares}"
        )
        assert Counter(answers) == Counter({"accepted": len(tickets)})
        assert all(stopped_gracefully(c, log_of(r)) for c, r in zip(codes, replicas, strict=True))
        found = surveys(engine)
        assert sorted(s.issue_id for s in found) == tickets
        assert all(s.message_id is not None for s in found)
        sent = invitations(fakes)
        assert sorted(sent) == tickets and set(sent.values()) == {1}
        assert {j.state for j in jobs(engine)} == {JobState.DONE}
        assert all(shares)  # both replicas invited
        assert sum(shares) == len(tickets)
