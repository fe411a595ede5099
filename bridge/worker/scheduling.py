"""Which due jobs a worker takes, in lanes: Okdesk and Bitrix24 jobs never wait behind each
other, invitations go as one batch, and a blocked portal gets nothing but a probe now and then.
Each lane runs as many jobs at once as its vendor's rate × the time a job holds its place
(`lane_sizes`).

Several workers on one PostgreSQL never run the same job at once: jobs are leased
(`FOR UPDATE SKIP LOCKED`), and a lease that runs out frees the job for others. A live worker
extends its leases; only a dead or frozen one lets them run out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.client import BATCH_LIMIT
from bridge.config.settings import Settings
from storage import queue, status
from storage.db import transaction
from storage.status import StatusKey
from storage.tables import Job, JobKind

CHAT_LANE = "bitrix24"
INVITATIONS = "invitations"
# Invitation batches at once: one finding its people in Okdesk while another sends.
INVITATION_BATCHES = 2
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
    database), so its lane holds 50 calls for each request a second.
    """
    per_second = max(2, math.ceil(settings.bitrix_requests_per_second))
    return {
        "okdesk": settings.okdesk_max_in_flight,
        CHAT_LANE: BATCH_LIMIT * per_second,
        INVITATIONS: INVITATION_BATCHES,
    }


@dataclass(frozen=True)
class Claimed:
    """What one pass took: a batch of invitations and each lane's jobs."""

    invites: list[Job]
    lanes: dict[str, list[Job]]

    def __len__(self) -> int:
        return len(self.invites) + sum(len(jobs) for jobs in self.lanes.values())


class Scheduler:
    """Claims, extends and releases one worker's leases (database steps, run in a thread)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._last_extension: datetime | None = None

    def claim(self, now: datetime, room: dict[str, int]) -> Claimed:
        """In one transaction: a batch of invitations, then each lane's jobs."""
        lease = self._settings.job_lease
        with transaction(self._engine) as session:
            room = {**room, CHAT_LANE: _chat_room(session, now, room[CHAT_LANE])}
            invites: list[Job] = []
            if min(room[CHAT_LANE], room.get(INVITATIONS, 0)) > 0:
                invites = queue.claim_jobs(
                    session, now=now, lease=lease, limit=BATCH_LIMIT, kinds=[JobKind.INVITE]
                )
            lanes = {
                lane: queue.claim_jobs(session, now=now, lease=lease, limit=free, kinds=LANES[lane])
                for lane, free in room.items()
                if free > 0 and lane in LANES
            }
        return Claimed(invites, lanes)

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


def _chat_room(session: Session, now: datetime, free: int) -> int:
    """Bitrix24 blocks the portal: nothing goes out but one probe when it is due."""
    blocked = status.get_status(session, key=StatusKey.PORTAL_BLOCKED)
    if blocked is None:
        return free
    due = now >= datetime.fromisoformat(blocked.value)
    return min(free, 1 if due else 0)
