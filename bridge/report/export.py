"""The CSV export: one line per survey of the period, UTF-8 with a BOM so that Excel reads
Cyrillic, and no cell a spreadsheet could run as a formula, in either locale (`neutral`).

What the personal-data purge erased is NULL in the table and so an empty cell here; e-mail
addresses are never stored, and any a person typed into a comment are masked.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bridge.report.html.texts import CSV_HEADER
from bridge.report.privacy import without_emails
from bridge.report.words import history, words
from storage.reading.report_words import changes_of

BOM = "\ufeff"
# A cell starting with one of these (after spaces and quotes) is a formula to Excel and
# LibreOffice. Russian Excel splits a line at `;` (its list separator), quotes or not, and a
# line break or a tab can start a cell too: text after any of them may begin a cell of its own.
_FORMULA_AFTER = re.compile(r"""(^|[;\r\n\t])([\s"']*)(?=[=+\-@\t\r])""")


def neutral(text: str) -> str:
    """`text` with a `'` before each formula sign that could begin a cell: at the start, and
    after a `;`, a line break or a tab (a cell of its own in Russian Excel)."""
    return _FORMULA_AFTER.sub(lambda m: f"{m[1]}{m[2]}'", text)


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
    return neutral(without_emails(str(value)))


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


def with_words(session: Session, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows of `storage.reading.report.export_batch` (…, reply, follow-up, survey id) as the CSV's
    (…, the reply's words, the follow-up answer, the changes of mind)."""
    changes = changes_of(session, (row[-1] for row in rows))
    return [(*row[:-3], words(row[-3]), row[-2], history(changes.get(row[-1], []))) for row in rows]
