"""Which due jobs a worker takes, in lanes: Okdesk and Bitrix24 jobs never wait behind each
other, invitations go as one batch, and a blocked portal gets nothing but a probe now and then.

Several workers on one PostgreSQL never run the same job at once: jobs are leased
(`FOR UPDATE SKIP LOCKED`), and a lease that runs out frees the job for others. A live worker
extends its leases; only a dead or frozen one lets them run out.
"""

from __future__ import annotations

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
    ],
}


@dataclass(frozen=True)
class Claimed:
    """What one pass took: a batch of invitations (one chat slot) and each lane's jobs."""

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
        """In one transaction: a batch of invitations (one chat slot), then each lane's jobs."""
        lease = self._settings.job_lease
        with transaction(self._engine) as session:
            room = {**room, CHAT_LANE: _chat_room(session, now, room[CHAT_LANE])}
            invites: list[Job] = []
            if room[CHAT_LANE] > 0:
                invites = queue.claim_jobs(
                    session, now=now, lease=lease, limit=BATCH_LIMIT, kinds=[JobKind.INVITE]
                )
            if invites:
                room[CHAT_LANE] -= 1
            lanes = {
                lane: queue.claim_jobs(session, now=now, lease=lease, limit=free, kinds=LANES[lane])
                for lane, free in room.items()
                if free > 0
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
