"""The README and docs/ are the code's truth: every setting and every /metrics series and label
value the service can serve is in the README's tables, every document cited is in the
repository, every link resolves, and `PUBLIC_URL` is written one way."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from bridge.config.settings import Settings
from bridge.rules.decisions import AnswerOutcome, ClosureDecision
from harness.constants import ROOT
from outbound.observe import CallOutcome
from storage.portals import PortalState
from storage.tables import JobKind

README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = sorted((ROOT / "docs").glob("*.md"))
OURS = ["bot", "bridge", "storage", "outbound", "sandbox", "bench", "tests"]


def _metrics_row(series: str) -> str:
    """The README's metrics-table row of one series."""
    rows = [line for line in README.splitlines() if line.startswith(f"| `{series}")]
    assert len(rows) == 1, f"{series}: {len(rows)} rows in the README's metrics tables"
    return rows[0]


@pytest.mark.parametrize("name", [name.upper() for name in Settings.model_fields])
def test_every_setting_is_in_example_env_and_the_readme(name: str) -> None:
    example = (ROOT / "example.env").read_text(encoding="utf-8")
    assert re.search(rf"^{name}=", example, flags=re.MULTILINE), f"{name} not in example.env"
    assert f"| `{name}` |" in README, f"{name} not in the README's settings tables"


def test_every_metric_series_the_service_serves_is_in_the_readme() -> None:
    sources = [ROOT / "bridge" / "config" / "metrics.py", ROOT / "bridge" / "web" / "gauges.py"]
    names = [n for path in sources for n in re.findall(r'PREFIX \+ "(\w+)"', path.read_text())]
    assert len(names) >= 10
    for name in names:
        _metrics_row(f"okdesk_rating_{name}")


def _declared_labels() -> list[tuple[str, list[str]]]:
    """Each labelled series the service declares, with its label names."""
    sources = [ROOT / "bridge" / "config" / "metrics.py", ROOT / "bridge" / "web" / "gauges.py"]
    found = []
    for path in sources:
        for name, labels in re.findall(
            r'PREFIX \+ "(\w+)",\s*"[^"]*",\s*(?:labels=)?\[([^\]]*)\]', path.read_text()
        ):
            found.append((f"okdesk_rating_{name}", re.findall(r'"(\w+)"', labels)))
    return found


def test_every_metric_row_lists_the_labels_its_series_carries() -> None:
    declared = _declared_labels()
    assert ("okdesk_rating_portal_state", ["portal", "state"]) in declared
    for series, labels in declared:
        listed = _metrics_row(series).split("|")[3]
        assert re.findall(r"`(\w+)`", listed) == labels, series


LABEL_VALUES: list[tuple[str, type[StrEnum] | tuple[str, ...]]] = [
    ("okdesk_rating_webhooks_total", ClosureDecision),
    ("okdesk_rating_answers_total", AnswerOutcome),
    ("okdesk_rating_answers_total", ("click", "text", "automatic")),
    ("okdesk_rating_vendor_calls_total", CallOutcome),
    ("okdesk_rating_jobs_pending", JobKind),
    ("okdesk_rating_bitrix_requests_total", CallOutcome),
    ("okdesk_rating_portal_state", PortalState),
]


@pytest.mark.parametrize(("series", "values"), LABEL_VALUES)
def test_every_label_value_is_explained_in_its_row(
    series: str, values: type[StrEnum] | tuple[str, ...]
) -> None:
    row = _metrics_row(series)
    missing = [str(value) for value in values if f"`{value}`" not in row]
    assert missing == [], f"{series}: {missing} not in the README"


def _cited_documents() -> set[str]:
    texts = [README, *(path.read_text(encoding="utf-8") for path in DOCS)]
    for top in OURS:
        texts += [path.read_text(encoding="utf-8") for path in (ROOT / top).rglob("*.py")]
    return {name for text in texts for name in re.findall(r"\b([\w-]+\.md)\b", text)}


def test_every_document_the_code_or_docs_cite_is_in_the_repository() -> None:
    present = {path.name for path in ROOT.rglob("*.md") if ".venv" not in path.parts}
    assert _cited_documents() - present == set()


def test_public_url_is_written_one_way() -> None:
    places = [ROOT / "README.md", ROOT / "example.env", ROOT / "docker-compose.yaml", *DOCS]
    for path in places:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"https?://[<{]PUBLIC_URL", text), path.name


def _links(path: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", [ROOT / "README.md", *DOCS], ids=lambda p: p.name)
def test_every_link_of_the_readme_and_docs_resolves(path: Path) -> None:
    for link in _links(path):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target, _, anchor = link.partition("#")
        if target:
            assert (path.parent / target).exists(), f"{path.name}: {link}"
        if anchor and not target:
            assert anchor in _anchors(path), f"{path.name}: #{anchor}"


def _anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_the_readme_reads_in_the_order_people_act() -> None:
    order = ["## Contents", "## Try it", "## Set it up", "## Operate it", "## Upgrade", "## More"]
    places = [README.index(heading) for heading in order]
    assert places == sorted(places)
    steps = re.findall(r"^### (\d)\. ", README, flags=re.MULTILINE)
    assert steps == [str(n) for n in range(1, len(steps) + 1)] and len(steps) >= 6
    set_up = README[README.index("## Set it up") : README.index("## Operate it")]
    assert set_up.rstrip().endswith("close a ticket in Okdesk.")
    assert "bridge.admin check" in set_up and "send-test" in set_up


def test_the_readme_and_docs_cite_nothing_outside_the_repository() -> None:
    for text in [README, *(path.read_text(encoding="utf-8") for path in DOCS)]:
        assert not re.search(r"\bissue \d+", text)
        assert "../shared" not in text
