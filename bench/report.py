"""Figures and how they are printed: percentiles, units, memory of a process, the table."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

Figure = float | int | str | bool | None

# --- small helpers -------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    """Seconds as milliseconds, for the table."""
    return f"{seconds * 1000:.1f} ms"


def proc_memory(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB; (0, 0) when it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        name, _, rest = line.partition(":")
        if name in values:
            values[name] = int(rest.split()[0])
    return values["VmRSS"], values["VmHWM"]


def mib(kib: int) -> str:
    """KiB as MiB, for the table."""
    return f"{kib / 1024:.1f} MiB"


def table(title: str, rows: list[tuple[str, str]]) -> None:
    """Print a two-column table with a title."""
    width = max(len(name) for name, _ in rows)
    value_width = max(len(value) for _, value in rows)
    rule = "-" * (width + value_width + 5)
    print()
    print(title)
    print(rule)
    for name, value in rows:
        print(f"  {name:<{width}}   {value:>{value_width}}")
    print(rule, flush=True)


@dataclass
class Report:
    """Figures collected on the way, printed together at the end."""

    figures: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    values: dict[str, Figure] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        """Record one figure for the final block."""
        self.figures.append((name, value))

    def put(self, key: str, value: Figure) -> None:
        """Record one figure for the JSON line, under a flat key."""
        self.values[key] = value

    def put_ms(self, key: str, seconds: float) -> None:
        """Record seconds as milliseconds for the JSON line, rounded to 0.1 ms."""
        self.values[key] = round(seconds * 1000, 1)

    def json_line(self) -> str:
        """Every figure as one line of JSON (the benchmark prints it last)."""
        return json.dumps(self.values, ensure_ascii=False, separators=(", ", ": "))
