"""The one wait loop: look again and again until a condition holds or the time is up.

The worker (in-process or a process of its own) works in the background, so a test waits for
the state it expects instead of sleeping a guessed time. The default bounds are ones only a
stall reaches: a test that passes waits no longer for them, and CI shares its two cores between
two pytest-xdist workers (and, on a developer's machine, with other runs).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator


def _looks(within: float, every: float) -> Iterator[float]:
    """Yield the pause before each next look until `within` seconds ran out, then fail."""
    deadline = time.monotonic() + within
    while True:
        yield every
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s")


def wait_for(check: Callable[[], object], within: float = 45.0, every: float = 0.05) -> None:
    """Wait until `check()` is true (for code outside an event loop)."""
    for pause in _looks(within, every):
        if check():
            return
        time.sleep(pause)


async def eventually(
    check: Callable[[], Awaitable[object]] | Callable[[], object],
    within: float = 30.0,
    every: float = 0.02,
) -> None:
    """Wait until `check()` (a function or a coroutine function) holds, inside an event loop."""
    for pause in _looks(within, every):
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(pause)
