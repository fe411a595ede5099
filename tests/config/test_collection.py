"""The collector, set for a service: what was built before serving is out of its sight, and
the young objects are collected after 10,000 new containers, not CPython's 700, so a burst of
work makes a few young rounds instead of hundreds, and no full one."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bridge.config.collection import YOUNG_COLLECTION_AFTER, keep_out_of_collection


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector as it was, afterwards."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def _rounds() -> list[int]:
    return [generation["collections"] for generation in gc.get_stats()]


def _cycles(count: int) -> None:
    """`count` small reference cycles, dropped at once: garbage only the collector frees."""
    for _ in range(count):
        pair: list[object] = []
        pair.append({"pair": pair})


def test_a_burst_of_work_makes_a_few_young_rounds_and_no_full_one(collector: None) -> None:
    keep_out_of_collection()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_AFTER == 10_000
    before = _rounds()
    _cycles(50_000)  # 100,000 containers: ~100 young rounds, 9 middle and 1 full under 700
    young, middle, full = (after - then for after, then in zip(_rounds(), before, strict=True))
    assert 5 <= young <= 15 and middle <= 1 and full == 0
