"""Finding e-mail addresses in whatever text the service stored, in any table."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy import String, inspect, text
from sqlalchemy.engine import Engine

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def text_cells(engine: Engine) -> Iterator[tuple[str, str, str]]:
    """(table, column, value) for every text value stored in any table."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        for table in inspector.get_table_names():
            columns = [
                c["name"] for c in inspector.get_columns(table) if isinstance(c["type"], String)
            ]
            if not columns:
                continue
            names = ", ".join(f'"{c}"' for c in columns)
            for row in connection.execute(text(f'SELECT {names} FROM "{table}"')):
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str):
                        yield table, column, value
