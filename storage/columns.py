"""Column types and index conditions of our own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, TypeDecorator, text
from sqlalchemy.engine import Dialect

# A row id that outlives years of rows appended and folded (SQLite's rowid is 64-bit already).
ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


def where(condition: str) -> dict[str, Any]:
    """A partial index's condition, on both databases: `Index(..., **where("x IS NOT NULL"))`."""
    return {f"{name}_where": text(condition) for name in ("sqlite", "postgresql")}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, also on SQLite, which stores datetimes without a zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
