"""Which due jobs a worker takes, in lanes: Okdesk and Bitrix24 jobs never wait behind each
other, invitations go in batches of 50, and a blocked portal gets nothing but a probe now and then.
Each lane runs as many jobs at once as its vendor's rate × the time a job holds its place
(`lane_sizes`); Bitrix24's lanes are each portal's own, as each portal has its own request
budget, so a portal that is throttled, blocked or unreachable holds only its own places and
never delays another portal's invitations or answers.

Several workers on one PostgreSQL never run the same job at once: jobs are leased
(`FOR UPDATE SKIP LOCKED`), and a lease that runs out frees the job for others. A live worker
extends its leases; only a dead or frozen one lets them run out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.client import BATCH_LIMIT
from bridge.config.settings import Settings
from bridge.outside.vendors import HEADROOM, budgets_left
from storage import portals, queue
from storage.db import reading, transaction
from storage.portals import DEFAULT_NUMBER
from storage.tables import Job, JobKind

CHAT_LANE = "bitrix24"
INVITATIONS = "invitations"
# Invitation batches of a portal at once (`Scheduler._places`): as many as its budget's burst
# carries while it has requests in hand for the whole backlog (`lane_sizes`), two once its
# rate paces them.
PACED_BATCHES = 2
# Requests a batch of invitations spends: the people looked up, then the message.
BATCH_REQUESTS = 2
LANES: dict[str, list[JobKind]] = {
    "okdesk": [JobKind.SEND_RATING, JobKind.AUTO_COMMENT, JobKind.POST_FOLLOWUP],
    CHAT_LANE: [
        JobKind.CLOSE_INVITATION,
        JobKind.REPLY,
        JobKind.VERIFY_REPLY,
        JobKind.REMIND,
        JobKind.CLOSE_REMINDER,
        JobKind.VERIFY_FOLLOWUP,
        JobKind.CHECK_BOT_DELETED,
        JobKind.ALERT,
        JobKind.DIGEST,
    ],
}


def lane_sizes(settings: Settings) -> dict[str, int]:
    """Jobs each lane runs at once.

    Okdesk documents no rate: a job has at most one request on its way, so its lane runs as
    many jobs as requests may be in flight (OKDESK_MAX_IN_FLIGHT). Bitrix24's chat calls share
    requests of up to 50 (`bot.batching.shared`); the portal grants BITRIX_REQUESTS_PER_SECOND
    requests a second and a call waits about a second (the budget, the round trip, the
    database), so its lane holds 50 calls for each request a second. Invitation batches: as
    many as a portal's burst carries (24 for a burst of 50; imbot.v2's burst of 2 carries one,
    and the requests in hand bound them there), so a burst of closures waits on Okdesk's reads
    and our CPU, never on places.
    """
    per_second = max(2, math.ceil(settings.bitrix_requests_per_second))
    return {
        "okdesk": settings.okdesk_max_in_flight,
        CHAT_LANE: BATCH_LIMIT * per_second,
        INVITATIONS: max(PACED_BATCHES, (settings.bitrix_burst - HEADROOM) // BATCH_REQUESTS),
    }


class Slot(NamedTuple):
    """Where a running job holds its place: a lane, and for Bitrix24's lanes its portal (each
    portal has its own request budget, so one portal's waiting jobs never fill another's)."""

    lane: str
    portal: int | None = None


# A reported deletion of a bot is checked in a place of its own: it names its portal in its
# payload, and it must run while that portal's other jobs wait.
CHECKS = Slot(CHAT_LANE)
PORTAL_KINDS = [kind for kind in LANES[CHAT_LANE] if kind != JobKind.CHECK_BOT_DELETED]


@dataclass(frozen=True)
class Claimed:
    """What one pass took, by place: a batch of invitations per portal, and lanes' jobs."""

    groups: list[tuple[Slot, list[Job]]]

    def __len__(self) -> int:
        return sum(len(jobs) for _, jobs in self.groups)


class Scheduler:
    """Claims, extends and releases one worker's leases (database steps, run in a thread)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._sizes = lane_sizes(settings)
        self._last_extension: datetime | None = None

    def claim(self, now: datetime, busy: Counter[Slot]) -> Claimed:
        """In one transaction: each portal's invitations and chat jobs within its own places
        (a blocked portal's only a probe when it is due), then Okdesk's jobs."""
        groups: list[tuple[Slot, list[Job]]] = []
        # Most passes of a quiet moment find nothing due: one read says so, without the
        # writer's lock and the claim's queries (~0.4 ms of CPU, where they take ~2 ms).
        with reading(self._engine) as session:
            if queue.oldest_due(session, now=now) is None:
                return Claimed([])
        with transaction(self._engine) as session:
            stored = portals.portal_facts(session)
            allowances = _allowances(stored, now)
            apis = {DEFAULT_NUMBER: self._settings.bitrix_api} | {p.id: p.api for p in stored}
            in_hand = budgets_left(session, self._settings, apis)
            for number, allowance in allowances.items():
                # One portal: every job is its own, claimed without asking whose it is.
                only = len(allowances) == 1
                places = self._places(session, now, in_hand[number], busy, number, only)
                groups += self._claim_portal(session, now, number, allowance, busy, only, places)
            for slot, kinds, size in (
                (Slot("okdesk"), LANES["okdesk"], self._sizes["okdesk"]),
                (CHECKS, [JobKind.CHECK_BOT_DELETED], 1),
            ):
                free = size - busy[slot]
                if free > 0:
                    groups.append((slot, self._take(session, now, free, kinds)))
        return Claimed([(slot, jobs) for slot, jobs in groups if jobs])

    def _claim_portal(
        self,
        session: Session,
        now: datetime,
        number: int,
        allowance: int,
        busy: Counter[Slot],
        only: bool,
        places: int,
    ) -> list[tuple[Slot, list[Job]]]:
        chat, invites = Slot(CHAT_LANE, number), Slot(INVITATIONS, number)
        whose = None if only else number
        allowed = allowance - busy[chat] - busy[invites]
        free = min(self._sizes[CHAT_LANE] - busy[chat], allowed)
        groups: list[tuple[Slot, list[Job]]] = []
        if allowed > 0 and places > 0:
            # Every free place's batch in this one pass: a pass comes on a wake (a webhook
            # stored, a job finished), and after a burst of closures the only wakes are the
            # batches finishing, one pass each (one batch a pass left places empty). The places
            # bound them, not the chat lane's size: its 100 let two batches start a pass, and a
            # burst's last batches waited for passes half a second apart.
            taken = self._take(
                session, now, min(allowed, BATCH_LIMIT * places), [JobKind.INVITE], whose
            )
            groups += [
                (invites, taken[i : i + BATCH_LIMIT]) for i in range(0, len(taken), BATCH_LIMIT)
            ]
            if allowance < BATCH_LIMIT:
                free -= len(taken)  # a blocked portal's probe may be an invitation
        if free > 0:
            groups.append((chat, self._take(session, now, free, PORTAL_KINDS, whose)))
        return groups

    def _take(
        self,
        session: Session,
        now: datetime,
        limit: int,
        kinds: Sequence[JobKind],
        portal: int | None = None,
    ) -> list[Job]:
        lease = self._settings.job_lease
        return queue.claim_jobs(
            session, now=now, lease=lease, limit=limit, kinds=kinds, portal=portal
        )

    def _places(
        self,
        session: Session,
        now: datetime,
        in_hand: float,
        busy: Counter[Slot],
        number: int,
        only: bool,
    ) -> int:
        """Invitation batches the portal may start now (`_budget_places`): more than two at
        once only for a backlog the requests in hand carry whole (a burst of closures). A
        larger one is paced by the portal's rate: more batches then only read Okdesk while the
        webhooks still come in and the budget waits (10,000 closures took 1.07-1.09× the least
        time the limit allows with eight at any time, 1.05× with two; with this rule and four,
        1.048×, and 1,000 closures 10.3× the floor; with eight, 1.066× and 7.8-8.7×; on a faster
        machine, where four gave 8.3× the floor, as many as the burst carries, all started in
        one pass, gave 1.042× and 4.0×)."""
        running = busy[Slot(INVITATIONS, number)]
        places = _budget_places(in_hand, running, self._sizes[INVITATIONS])
        if running + places <= PACED_BATCHES:
            return places
        carried = BATCH_LIMIT * int(in_hand // BATCH_REQUESTS)
        whose = None if only else number
        if queue.due_beyond(session, now=now, kinds=[JobKind.INVITE], portal=whose, skip=carried):
            return PACED_BATCHES - running
        return places

    def extend(self, now: datetime, leases: list[str]) -> None:
        """Keep running jobs' leases alive (every third of a lease, not every pass)."""
        lease = self._settings.job_lease
        if not leases or (
            self._last_extension is not None and now - self._last_extension < lease / 3
        ):
            return
        with transaction(self._engine) as session:
            queue.extend_leases(session, lease_tokens=leases, until=now + lease)
        self._last_extension = now

    def release(self, leases: list[str], now: datetime) -> int:
        """Hand leased jobs back at once (a graceful stop)."""
        with transaction(self._engine) as session:
            return queue.release_jobs(session, lease_tokens=leases, now=now)


# A portal's allowance when nothing holds it back (more than any lane's places).
UNLIMITED = 1 << 30


def _allowances(stored: Sequence[portals.PortalFacts], now: datetime) -> dict[int, int]:
    """How many jobs each portal may have running: a portal Bitrix24 blocked (or whose block
    is still noted) gets one probe when it is due and none before; `default` is always there."""
    found = {DEFAULT_NUMBER: UNLIMITED}
    for portal in stored:
        until = portal.blocked_until
        found[portal.id] = UNLIMITED if until is None else (1 if now >= until else 0)
    return found


def _budget_places(in_hand: float, running: int, batches: int) -> int:
    """Invitation batches a portal may start now. While its budget holds requests in hand (a
    burst of closures), up to `batches` at once: each batch then waits on its Okdesk reads, not
    on the portal (1,000 closures: 4.0× the floor with as many as the burst carries, 8.3× with
    four, 17× with two). Once the portal's rate paces them, PACED_BATCHES: more would only wait
    their turn."""
    most = min(batches, running + int(in_hand // BATCH_REQUESTS))
    return max(PACED_BATCHES, most) - running
