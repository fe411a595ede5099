"""Vendor outages through a proxy (refusing, resetting, hanging, slow, answering errors): the
webhook keeps accepting closures and the health check stays green; once the vendor is back,
every survey is invited once and every rating posted once."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from bot.client import BitrixClient
from bot.register import register
from harness.constants import CLIENT_ID, WEBHOOK_PATH
from harness.payloads import click_body, closed_webhook
from harness.processes import Fakes, Service, fakes_process, free_port, service_env
from harness.proxy import Mode, Proxy
from harness.senders import Senders
from harness.vendors import make_settings
from harness.waiting import wait_for
from storage.tables import Job, JobKind, JobState, SurveyState
from tests.databases import jobs, surveys

# --- real processes behind the proxy ----------------------------------------------------------


@dataclass
class Stack:
    """Fakes process, service process, and a proxy in front of each vendor."""

    fakes: Fakes
    service: Service
    okdesk: Proxy
    bitrix: Proxy
    engine: Engine

    def close(self, issue_ids: list[int]) -> None:
        """Okdesk closes these tickets at once; every webhook is accepted."""

        async def post_all() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=self.service.url, timeout=30) as client:
                send = Senders(client.post)
                return await asyncio.gather(*(send.webhook(closed_webhook(i)) for i in issue_ids))

        for response in asyncio.run(post_all()):
            assert response.status_code == 200
            assert response.json() == {"result": "accepted"}

    def click(self, issue_ids: list[int], score: int = 4) -> None:
        """The requester clicks a rating in each of these tickets' invitations."""
        tokens = {s.issue_id: s.token for s in surveys(self.engine)}
        for issue_id in issue_ids:
            body = click_body(f"{tokens[issue_id]}:{score}")
            token = self.service.env["BITRIX_EVENTS_TOKEN"]
            response = self.service.senders().event(body, token=token)
            assert response.status_code == 200

    def healthy(self) -> bool:
        """`GET /healthz` answers 200 with a reachable database."""
        response = httpx.get(self.service.url + "/healthz", timeout=5)
        return response.status_code == 200 and response.json()["database"] == "ok"

    def jobs_of(self, issue_ids: list[int], kind: JobKind) -> list[Job]:
        """The jobs of these tickets' surveys."""
        ids = {s.id for s in surveys(self.engine) if s.issue_id in issue_ids}
        return [j for j in jobs(self.engine) if j.survey_id in ids and j.kind == kind]

    def states(self, issue_ids: list[int]) -> set[SurveyState]:
        """The states these tickets' surveys are in."""
        wanted = set(issue_ids)
        return {SurveyState(s.state) for s in surveys(self.engine) if s.issue_id in wanted}

    def settled(self) -> bool:
        """Nothing is queued or running."""
        return all(job.state != JobState.PENDING for job in jobs(self.engine))

    def _messages(self) -> list[tuple[int, dict[str, Any]]]:
        found = []
        for message in self.fakes.state("bitrix")["messages"].values():
            if number := re.search(r"№(\d+)", message["MESSAGE"]):
                found.append((int(number[1]), message))
        return found

    def invitations(self) -> dict[int, int]:
        """How many bot messages name each ticket."""
        counts: dict[int, int] = {}
        for issue_id, _ in self._messages():
            counts[issue_id] = counts.get(issue_id, 0) + 1
        return counts

    def with_buttons(self) -> set[int]:
        """Tickets whose invitation still shows the rating buttons."""
        return {issue_id for issue_id, message in self._messages() if message["KEYBOARD"]}

    def ratings(self) -> dict[int, list[str]]:
        """What Okdesk received for each ticket."""
        posts: dict[int, list[str]] = {}
        for issue_id, body in self.fakes.state("okdesk")["rate_posts"]:
            posts.setdefault(int(issue_id), []).append(body["rate"])
        return posts


async def _register(webhook_url: str, database_url: str) -> int:
    async with httpx.AsyncClient() as http:
        bot = await register(
            BitrixClient(http, webhook_url, CLIENT_ID), make_settings(database_url)
        )
    return bot.bot_id


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])


@contextmanager
def _stack(
    database_url: str, engine: Engine, tmp_path: Path, issue_ids: list[int]
) -> Iterator[Stack]:
    with fakes_process() as fakes:
        fakes.seed_tickets(issue_ids)
        bot_id = asyncio.run(_register(fakes.bitrix_webhook, database_url))
        with (
            Proxy("127.0.0.1", _port(fakes.okdesk)) as okdesk,
            Proxy("127.0.0.1", _port(fakes.bitrix)) as bitrix,
        ):
            env = service_env(
                fakes,
                database_url,
                free_port(),
                OKDESK_URL=okdesk.url,
                BITRIX_WEBHOOK_URL=bitrix.url + WEBHOOK_PATH,
                BITRIX_BOT_ID=str(bot_id),
                # The blackhole's timeouts come after this; a batch of 50 invitations through
                # the slow proxy took over a second when four test workers shared two cores,
                # and a timed-out batch Bitrix24 did post is posted again (a known limit).
                HTTP_TIMEOUT="3s",
                RETRY_BASE="0.2s",
                RETRY_CAP="1s",
                RECONCILE_INTERVAL="off",
                BITRIX_BURST="500",
                BITRIX_REQUESTS_PER_SECOND="100",
            )
            service = Service(env, tmp_path / "service.log")
            service.start()
            try:
                yield Stack(fakes, service, okdesk, bitrix, engine)
            finally:
                service.stop()


OUTAGES: list[tuple[Mode, str]] = [
    ("refuse", r"unreachable \(ConnectError\)"),
    ("reset", r"unreachable \(\w+\)"),
    ("blackhole", r"timed out \(\w*Timeout\)"),
]


@dataclass(frozen=True)
class Outage:
    """Which vendor is down, and which calls are then seen failing."""

    vendor: str
    invite_call: str
    answered_kind: JobKind
    answered_call: str


BITRIX_DOWN = Outage(
    "bitrix",
    r"Bitrix24 (user\.get|batch)",
    JobKind.CLOSE_INVITATION,
    # The thank-you edits that meet share a batch request, which fails as a whole.
    r"Bitrix24 (imbot\.message\.update|batch)",
)
OKDESK_DOWN = Outage(
    "okdesk",
    "Okdesk ticket read",
    JobKind.SEND_RATING,
    # A person's first try writes first; a retry reads the ticket first (it may have been
    # written by a try whose answer was lost).
    "Okdesk (rating|ticket read)",
)


def _retried(stack: Stack, issue_ids: list[int], kind: JobKind) -> bool:
    found = stack.jobs_of(issue_ids, kind)
    return len(found) == len(issue_ids) and all(j.attempts > 1 and j.last_error for j in found)


def _down_then_back(
    stack: Stack, outage: Outage, mode: Mode, error: str, batch: list[int], answered: list[int]
) -> None:
    """While the vendor is down, tickets close and earlier invitations are answered."""
    proxy = stack.bitrix if outage.vendor == "bitrix" else stack.okdesk
    proxy.set_mode(mode)
    stack.close(batch)
    stack.click(answered)
    wait_for(lambda: _retried(stack, batch, JobKind.INVITE), within=20)
    wait_for(lambda: _retried(stack, answered, outage.answered_kind), within=20)
    for job in stack.jobs_of(batch, JobKind.INVITE):
        assert re.fullmatch(f"{outage.invite_call}: {error}", job.last_error or ""), job.last_error
    for job in stack.jobs_of(answered, outage.answered_kind):
        assert re.fullmatch(f"{outage.answered_call}: {error}", job.last_error or ""), job
    # The other vendor's half of the work goes on meanwhile.
    if outage.vendor == "bitrix":
        wait_for(lambda: set(answered) <= set(stack.ratings()))
    else:
        wait_for(lambda: not set(answered) & stack.with_buttons())
    assert stack.healthy()
    assert stack.states(batch) == {SurveyState.INVITING}
    assert not set(batch) & set(stack.invitations())
    proxy.set_mode("pass")
    wait_for(lambda: stack.states(batch) == {SurveyState.AWAITING} and stack.settled(), 30)


def _outages_lose_and_repeat_nothing(stack: Stack, outage: Outage) -> None:
    tickets = iter(ALL_TICKETS)
    answered = [next(tickets) for _ in range(3)]
    stack.close(answered)
    wait_for(lambda: stack.states(answered) == {SurveyState.AWAITING} and stack.settled())
    clicked: list[int] = []
    for mode, error in OUTAGES:
        batch = [next(tickets) for _ in range(3)]
        _down_then_back(stack, outage, mode, error, batch, answered)
        clicked += answered
        answered = batch

    # A slow vendor, and a hundred tickets closed at once.
    proxy = stack.bitrix if outage.vendor == "bitrix" else stack.okdesk
    proxy.set_mode("delay", delay=0.1)
    crowd = [next(tickets) for _ in range(100)]
    stack.close(crowd)
    stack.click(answered)
    clicked += answered
    assert stack.healthy()
    wait_for(lambda: stack.states(crowd) == {SurveyState.AWAITING} and stack.settled(), 60)
    proxy.set_mode("pass")

    everyone = ALL_TICKETS[: ALL_TICKETS.index(crowd[-1]) + 1]
    assert stack.invitations() == dict.fromkeys(everyone, 1)
    assert stack.fakes.state("bitrix")["calls_by_method"]["imbot.message.add"] == len(everyone)
    assert stack.ratings() == {issue_id: ["good"] for issue_id in clicked}
    assert stack.states(clicked) == {SurveyState.RATED}
    assert stack.with_buttons() == set(everyone) - set(clicked)
    assert {job.state for job in jobs(stack.engine)} == {JobState.DONE}


ALL_TICKETS = list(range(7001, 7200))


@pytest.mark.slow
def test_bitrix_outages_delay_invitations_but_lose_or_repeat_none(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with _stack(database_url, engine, tmp_path, ALL_TICKETS) as stack:
        _outages_lose_and_repeat_nothing(stack, BITRIX_DOWN)


@pytest.mark.slow
def test_okdesk_outages_delay_invitations_and_ratings_but_lose_or_repeat_none(
    database_url: str, engine: Engine, tmp_path: Path
) -> None:
    with _stack(database_url, engine, tmp_path, ALL_TICKETS) as stack:
        _outages_lose_and_repeat_nothing(stack, OKDESK_DOWN)
