"""Retry timing: full-jitter exponential backoff that honours the vendor's Retry-After."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.worker.settle import backoff_seconds, pass_backoff


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_backoff_grows_with_attempts_within_the_full_jitter_window(seed: int) -> None:
    rng = random.Random(seed)
    base, cap = 2.0, 1000.0
    largest = []
    for attempt in range(1, 9):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        waits = [backoff_seconds(attempt, base, cap, rng=rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits), attempt
        largest.append(max(waits))
    # Full jitter: 200 draws come close to each window's top, and the windows double.
    assert largest == sorted(largest)
    assert largest[-1] > 0.9 * min(cap, base * 2**7)


@pytest.mark.parametrize("attempt", [0, -3])
def test_attempts_before_the_first_use_the_base_window(attempt: int) -> None:
    rng = random.Random(7)

    waits = [backoff_seconds(attempt, 5.0, 100.0, rng=rng) for _ in range(100)]

    assert all(0 <= w <= 5.0 for w in waits)


@pytest.mark.parametrize("attempt", [10, 30, 200, 1000])
def test_backoff_never_exceeds_the_cap(attempt: int) -> None:
    rng = random.Random(attempt)

    waits = [backoff_seconds(attempt, 2.0, 900.0, rng=rng) for _ in range(100)]

    assert all(0 <= w <= 900.0 for w in waits)
    assert max(waits) > 800.0


@pytest.mark.parametrize(
    ("retry_after", "cap", "at_least"),
    [(7.0, 900.0, 7.0), (0.0, 900.0, 0.0), (3600.0, 900.0, 900.0), (30.0, 30.0, 30.0)],
)
def test_backoff_honours_retry_after_up_to_the_cap(
    retry_after: float, cap: float, at_least: float
) -> None:
    rng = random.Random(3)

    waits = [backoff_seconds(1, 0.5, cap, retry_after, rng) for _ in range(50)]

    assert all(at_least <= w <= cap for w in waits)


def test_same_seed_gives_the_same_waits() -> None:
    first = [backoff_seconds(n, 1.0, 60.0, rng=random.Random(9)) for n in range(1, 10)]
    second = [backoff_seconds(n, 1.0, 60.0, rng=random.Random(9)) for n in range(1, 10)]

    assert first == second


def test_backoff_survives_very_many_attempts() -> None:
    wait = backoff_seconds(1025, 2.0, 60.0, rng=random.Random(0))

    assert 0 <= wait <= 60.0


@given(
    attempt=st.integers(min_value=-5, max_value=1000),
    base=st.floats(min_value=0, max_value=3600),
    cap=st.floats(min_value=0, max_value=86400),
    retry_after=st.none() | st.floats(min_value=0, max_value=10**9),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_backoff_is_between_zero_and_the_cap(
    attempt: int, base: float, cap: float, retry_after: float | None, seed: int
) -> None:
    wait = backoff_seconds(attempt, base, cap, retry_after, random.Random(seed))

    assert 0 <= wait <= cap
    if retry_after is not None:
        assert wait >= min(retry_after, cap)


def test_a_failed_pass_waits_half_a_second_doubling_to_thirty() -> None:
    assert [pass_backoff(n) for n in (1, 2, 3, 7, 8, 50)] == [0.5, 1.0, 2.0, 30.0, 30.0, 30.0]
