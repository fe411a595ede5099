"""Many rows in one INSERT or UPDATE whose text does not depend on how many there are
(PostgreSQL).

SQLAlchemy's multi-row INSERT ("insertmanyvalues") renders one placeholder per value, so a
batch of eight 40-column surveys is a statement of 320 parameters, different for every batch
size. psycopg caches its translation of a statement only up to 50 parameters and 4 KB, so it
parsed that text anew for every batch: an eighth of the service's CPU under a burst of closure
webhooks (`python -m bench` on PostgreSQL, profiled with py-spy). Here the rows travel as one
JSON parameter that `jsonb_to_recordset` turns back into typed columns: one statement text,
compiled and translated once. SQLite keeps the multi-row INSERT: its driver parses fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection, CursorResult, Table, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB, Insert

from storage.sql import rowcount


class ManyRows:
    """One INSERT of many rows of `table` (the `columns` given, the rest null), for SQLite and
    PostgreSQL; `finish` adds what both need (ON CONFLICT, RETURNING). Every row holds exactly
    `columns`: SQLite's multi-row INSERT takes its columns from the first row's keys,
    PostgreSQL's from `columns`."""

    def __init__(
        self, table: Table, columns: Sequence[str], finish: Callable[[Any], Any] = lambda s: s
    ) -> None:
        self.columns = list(columns)
        self.statements = {
            "sqlite": finish(sqlite.insert(table)),
            "postgresql": finish(insert_from_json(table, self.columns)),
        }

    def execute(
        self, connection: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> CursorResult[*tuple[Any, ...]]:
        """Insert the rows in one statement."""
        dialect = connection.dialect.name
        if dialect == "postgresql":
            return connection.execute(
                self.statements[dialect], {"rows": json_rows(rows, self.columns)}
            )
        return connection.execute(self.statements[dialect], list(rows))


def insert_from_json(table: Table, columns: Sequence[str]) -> Insert:
    """`INSERT INTO table (columns) SELECT columns FROM jsonb_to_recordset(:rows)`, the
    records typed as the table's columns; give it `rows=json_rows(...)`."""
    typed = [column(name, table.c[name].type) for name in columns]
    records = (
        func.jsonb_to_recordset(cast(bindparam("rows", type_=Text), JSONB))
        .table_valued(*typed)
        .render_derived(with_types=True)
    )
    source = select(*(records.c[name] for name in columns))
    return postgresql.insert(table).from_select(list(columns), source)


def json_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """The rows as the JSON array `insert_from_json` reads: every column present (null when
    missing), datetimes as ISO 8601 in UTC (naive ones refused, as the UTC columns do)."""
    return json.dumps([{name: row.get(name) for name in columns} for row in rows], default=_value)


def _value(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} cannot be written as a JSON record")


class ManyUpdates:
    """One UPDATE of many rows of `table`, each found by its `key` and given its `columns`
    (plus `values` shared by all: a parameter or an expression), where `where` also holds.

    On PostgreSQL the rows travel as one JSON parameter (`jsonb_to_recordset`, as `ManyRows`):
    one statement for the batch, its text the same for any number of rows. An executemany ran
    the UPDATE once a row on the server (50 executions for a batch of 50 invitations, each
    planned and answered apart, each answer read by psycopg). SQLite runs the same UPDATE for
    each row: its driver is in process.
    """

    def __init__(
        self,
        table: Table,
        key: str,
        columns: Sequence[str],
        *,
        where: Sequence[Any] = (),
        values: Mapping[str, Any] | None = None,
    ) -> None:
        self.columns = [key, *columns]
        shared = dict(values or {})
        each = table.update().where(table.c[key] == bindparam(f"row_{key}"), *where)
        self._each = each.values({c: bindparam(f"row_{c}") for c in columns} | shared)
        typed = [column(name, table.c[name].type) for name in self.columns]
        records = (
            func.jsonb_to_recordset(cast(bindparam("rows", type_=Text), JSONB))
            .table_valued(*typed)
            .render_derived(name="row", with_types=True)
        )
        together = table.update().where(table.c[key] == records.c[key], *where)
        self._together = together.values({c: records.c[c] for c in columns} | shared)

    def execute(
        self, connection: Connection, rows: Sequence[Mapping[str, Any]], **shared: Any
    ) -> int:
        """Update the rows (each holding the key and every column); how many matched."""
        if not rows:
            return 0
        if connection.dialect.name == "postgresql":
            parameters = {"rows": json_rows(rows, self.columns), **shared}
            return rowcount(connection.execute(self._together, parameters))
        each = [{f"row_{name}": row[name] for name in self.columns} | shared for row in rows]
        return rowcount(connection.execute(self._each, each))
