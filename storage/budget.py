"""The request budget every replica shares (Bitrix24 counts requests per portal)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import bindparam
from sqlalchemy import select as select_columns
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from storage.sql import insert
from storage.tables import RequestBudget


def take_request(
    session: Session, *, name: str, now: float, burst: int, per_second: float
) -> float:
    """Take one request from a shared leaky bucket: 0 when granted, else seconds to wait."""
    query = select(RequestBudget).where(RequestBudget.name == name)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    budget = session.exec(query).first()
    if budget is None:
        session.execute(
            insert(session, RequestBudget)
            .values(name=name, tokens=float(burst), refilled_at=now)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        budget = session.exec(query).first()
    assert isinstance(budget, RequestBudget)
    tokens = _refilled(budget, now=now, burst=burst, per_second=per_second)
    if tokens >= 1.0:
        budget.tokens, budget.refilled_at = tokens - 1.0, now
        session.flush()
        return 0.0
    return (1.0 - tokens) / per_second


def tokens_left(session: Session, *, name: str, now: float, burst: int, per_second: float) -> float:
    """Requests the bucket would grant now without waiting (a full burst when never used)."""
    budget = session.get(RequestBudget, name)
    if budget is None:
        return float(burst)
    return _refilled(budget, now=now, burst=burst, per_second=per_second)


# Every bucket: a few rows, one per portal (/metrics reads them all, `storage.reading.gauges`).
BUCKETS = select_columns(
    col(RequestBudget.name), col(RequestBudget.tokens), col(RequestBudget.refilled_at)
)
STORED = BUCKETS.where(col(RequestBudget.name).in_(bindparam("names", expanding=True)))


def tokens_left_in(
    reader: Session | Connection, *, buckets: Mapping[str, tuple[int, float]], now: float
) -> dict[str, float]:
    """`tokens_left` of several buckets (name → burst, per second) in one statement, read as
    columns (an object per bucket cost /metrics more than the read)."""
    if not buckets:
        return {}
    found = {
        name: (tokens, at) for name, tokens, at in reader.execute(STORED, {"names": [*buckets]})
    }
    return left_of(found, buckets=buckets, now=now)


def left_of(
    found: Mapping[str, tuple[float, float]],
    *,
    buckets: Mapping[str, tuple[int, float]],
    now: float,
) -> dict[str, float]:
    """`tokens_left_in` of buckets already read (name → tokens, refilled at): a bucket not
    among them was never used, and is full."""
    return {
        name: _left(*found[name], now=now, burst=burst, per_second=rate)
        if name in found
        else float(burst)
        for name, (burst, rate) in buckets.items()
    }


def _refilled(budget: RequestBudget, *, now: float, burst: int, per_second: float) -> float:
    return _left(budget.tokens, budget.refilled_at, now=now, burst=burst, per_second=per_second)


def _left(tokens: float, refilled_at: float, *, now: float, burst: int, per_second: float) -> float:
    return min(float(burst), tokens + max(0.0, now - refilled_at) * per_second)


def empty(session: Session, *, name: str, now: float) -> None:
    """The portal refused a request for its limit: nothing more is granted until it refills."""
    budget = session.get(RequestBudget, name)
    if budget is not None:
        budget.tokens, budget.refilled_at = min(budget.tokens, 0.0), now
        session.flush()
