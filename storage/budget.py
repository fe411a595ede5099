"""The request budget every replica shares (Bitrix24 counts requests per portal)."""

from __future__ import annotations

from sqlmodel import Session, select

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


def _refilled(budget: RequestBudget, *, now: float, burst: int, per_second: float) -> float:
    return min(float(burst), budget.tokens + max(0.0, now - budget.refilled_at) * per_second)


def empty(session: Session, *, name: str, now: float) -> None:
    """The portal refused a request for its limit: nothing more is granted until it refills."""
    budget = session.get(RequestBudget, name)
    if budget is not None:
        budget.tokens, budget.refilled_at = min(budget.tokens, 0.0), now
        session.flush()
