"""The CSV export: one line per survey of the period, UTF-8 with a BOM so that Excel reads
Cyrillic, and cells a spreadsheet would run as a formula neutralised.

What the personal-data purge erased is NULL in the table and so an empty cell here; e-mail
addresses are never stored, and any a person typed into a comment are masked.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from bridge.report.privacy import without_emails
from bridge.report.texts import CSV_HEADER

BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel and LibreOffice.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One value as CSV text: dates as ISO UTC, booleans as 1/0, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, int):
        return str(value)
    text = without_emails(str(value))
    return "'" + text if text.startswith(_FORMULA) else text


def lines(batches: Iterable[Sequence[Sequence[Any]]], language: str) -> Iterator[str]:
    """The CSV text: the header, then a chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER["en" if language == "en" else "ru"])
    yield BOM + buffer.getvalue()
    for rows in batches:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([cell(v) for v in row] for row in rows)
        yield buffer.getvalue()
