"""The report's filters: `?engineer=&group=&company=&type=&priority=`, each an exact value as
the closure webhook stored it, and `&portal=`, the name of the portal people were asked in
(empty: any)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from storage.reading.report import matching

# Typed into the page's boxes; the portal is chosen from a list (`PORTAL`).
NAMES = ("engineer", "group", "company", "type", "priority")
PORTAL = "portal"
# The longest value the table holds (engineer, group and company are 300 characters).
LONGEST = 300


@dataclass(frozen=True)
class Filters:
    """Which surveys the report keeps (None: any)."""

    engineer: str | None = None
    group: str | None = None
    company: str | None = None
    type: str | None = None
    priority: str | None = None
    portal: str | None = None

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Filters:
        """The filters a query string names; blank values mean any."""
        values = {
            name: (query.get(name) or "").strip()[:LONGEST] or None for name in (*NAMES, PORTAL)
        }
        return cls(**values)

    def query(self) -> str:
        """The filters as query-string parameters, each starting with `&` (empty: none)."""
        given = {name: value for name, value in asdict(self).items() if value}
        return f"&{urlencode(given)}" if given else ""

    def counted_by_day(self) -> bool:
        """Whether the per-day counts serve these filters: they are kept by engineer and group,
        not by company, type, priority or portal."""
        return all(v is None for v in (self.company, self.type, self.priority, self.portal))

    def conditions(self) -> list[Any]:
        """The database conditions that keep the surveys these filters name."""
        return matching(**asdict(self))
