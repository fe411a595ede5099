"""The pace figures (bench/pace/) on a tiny run: what they print and put in the JSON line.
No timing is asserted: the benchmark prints figures, this only checks that they are made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.pace.figures import bench_closures, bench_wave
from bench.pace.portals import bench_portals
from bench.report import Report

pytestmark = pytest.mark.slow


def test_a_tiny_wave_is_rated_and_thanked_and_printed_beside_the_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = Report()
    bench_wave(None, tmp_path, 4, report)
    figures = json.loads(report.json_line())
    assert report.problems == []
    assert figures["wave_thanked_s"] > 0
    printed = capsys.readouterr().out
    assert "all rated and thanked" in printed and "148 s" in printed


def test_tiny_closures_are_invited_and_printed_as_a_multiple_of_the_floor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = Report()
    bench_closures(None, tmp_path, 6, report)
    figures = json.loads(report.json_line())
    assert report.problems == []
    # At least the floor: two Okdesk reads and two Bitrix24 requests, one after the other.
    assert figures["closures_floor_multiple"] >= 1.0
    assert figures["closures_cpu_ms"] > 0
    assert 0 < figures["closures_webhooks_s"] <= figures["closures_floor_multiple"] * 0.7
    printed = capsys.readouterr().out
    assert "the floor of 0.7 s" in printed and "15.7×" in printed
    assert "webhooks answered in" in printed


def test_tiny_closures_of_three_portals_are_each_invited_once_in_their_own_portal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = Report()
    bench_portals(None, tmp_path, 3, report)
    figures = json.loads(report.json_line())
    assert report.problems == []
    assert figures["portals_invited_once"] is True
    assert figures["portals_ratio"] > 0
    printed = capsys.readouterr().out
    assert "3, 3, 3 (yes)" in printed and "side by side / alone" in printed
