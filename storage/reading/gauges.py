"""Everything /metrics' gauges read of the database, in one statement (`read_stored`).

A scrape read seven small statements in a transaction of their own. On PostgreSQL each was a
round trip to the server, and with BEGIN, ROLLBACK and the pool's ping they were ten: most of
the scrape's read (2.7 ms p50 at a million surveys, back to back; 0.85 ms now). Here the
statements are the parts of one UNION ALL, each part the very statement its module reads
alone, its rows tagged with the part's name and put in one shape (`COLUMNS`, NULL where the
part has nothing). One statement sees one snapshot on both databases, so it needs no
transaction around it (`storage.db.reading_one_statement`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Row,
    Select,
    String,
    Text,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from storage import budget, polling, portals, queue, status
from storage.columns import UTCDateTime
from storage.portals import PortalFacts
from storage.reading import pending, waiting
from storage.status import StatusKey
from storage.tables import JobKind

# The shape of every part's rows, after its name (`part`). Each column has one type in every
# part: PostgreSQL cannot match a bare NULL of one part to a timestamp of another.
COLUMNS: dict[str, TypeEngine[Any]] = {
    "number": BigInteger(),  # a portal's number, a bot's id
    "amount": BigInteger(),  # jobs pending of a kind, surveys waiting in a portal
    "name": Text(),  # a job's kind, a portal's name, a bucket's name, the heartbeat's value
    "state": Text(),  # a portal's state
    "api": Text(),  # a portal's API
    "tokens": Float(),  # a bucket's tokens
    "refilled_at": Float(),  # when a bucket was last refilled (seconds since the epoch)
    "moment": UTCDateTime(),  # the oldest due job's, a portal's block's end, Event.get's answer
}


def _part(name: str, statement: Select[*tuple[Any, ...]], *columns: str) -> Select[Any]:
    """`statement`'s rows as the union's: tagged `name`, its columns in the places `columns`
    name, in order, and NULL in the others."""
    rows = statement.subquery(name)
    given = dict(zip(columns, rows.c, strict=True))
    return select(
        literal_column(f"'{name}'", String()).label("part"),
        *(given.get(key, cast(null(), type_)).label(key) for key, type_ in COLUMNS.items()),
    )


STORED = union_all(
    _part("pending", pending.BY_KIND, "name", "amount"),
    _part("due", queue.OLDEST_DUE, "moment"),
    _part("heartbeat", status.VALUE, "name"),
    _part("portal", portals.FACTS, "number", "name", "state", "api", "moment"),
    _part("bucket", budget.BUCKETS, "name", "tokens", "refilled_at"),
    _part("waiting", waiting.PER_PORTAL, "number", "amount"),
    _part("answered", polling.ANSWERED, "number", "moment"),
)


@dataclass(frozen=True)
class Stored:
    """What the gauges read, each part as its own module's reader returns it."""

    pending: dict[JobKind, int]  # `queue.pending_by_kind`
    oldest_due: datetime | None  # `queue.oldest_due`
    heartbeat: str | None  # the worker's heartbeat (`StatusKey.WORKER_HEARTBEAT`)
    portals: list[PortalFacts]  # `portals.portal_facts`, by number
    buckets: dict[str, tuple[float, float]]  # every bucket: its tokens, when refilled
    waiting: dict[int, int]  # `waiting.per_portal`
    answers: dict[int, datetime]  # `polling.last_answers`


def read_stored(reader: Connection, *, now: datetime) -> Stored:
    """Everything the gauges show, read in one statement (one round trip, one snapshot)."""
    # The oldest due job is asked with the time (`queue.OLDEST_DUE`), not found among the
    # pending ones here: asked without it, SQLite after ANALYZE sorted every pending job
    # (/metrics 33 ms p50 at a million surveys).
    key = str(StatusKey.WORKER_HEARTBEAT)
    rows = reader.execute(STORED, {"now": now, "key": key}).all()
    parts: dict[str, list[Row[Any]]] = {}
    for row in rows:
        parts.setdefault(row.part, []).append(row)
    return Stored(
        pending={JobKind(r.name): int(r.amount) for r in _of(parts, "pending") if r.amount},
        oldest_due=next((r.moment for r in _of(parts, "due")), None),
        heartbeat=next((r.name for r in _of(parts, "heartbeat")), None),
        portals=sorted(
            (PortalFacts(r.number, r.name, r.state, r.api, r.moment) for r in _of(parts, "portal")),
            key=lambda portal: portal.id,
        ),
        buckets={r.name: (r.tokens, r.refilled_at) for r in _of(parts, "bucket")},
        waiting={int(r.number): int(r.amount) for r in _of(parts, "waiting") if r.amount},
        answers={int(r.number): r.moment for r in _of(parts, "answered") if r.moment is not None},
    )


def _of(parts: dict[str, list[Row[Any]]], name: str) -> Sequence[Row[Any]]:
    return parts.get(name, ())
