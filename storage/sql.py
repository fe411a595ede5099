"""Small helpers the query modules share: a dialect-aware INSERT and a checked row count."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def insert(session: Session, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def rowcount(result: Any) -> int:
    """How many rows an UPDATE or DELETE touched."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
