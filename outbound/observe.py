"""Watching vendor calls without knowing who watches: how long each took and how it ended.

The clients take an optional `CallObserver` and report every request through `observed`;
the service passes one that feeds its metrics. An observer sees a vendor, a fixed method or
route name and an outcome, never a URL, a token or a body.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Protocol

from outbound.errors import DeliveryError, TransientError


class CallOutcome(StrEnum):
    """How a vendor call ended."""

    OK = "ok"
    TRANSIENT = "transient"
    REJECTED = "rejected"
    # Something that is no delivery error (odd data the client could not read).
    ERROR = "error"


class CallObserver(Protocol):
    """Told about every vendor call once it has ended."""

    def called(self, vendor: str, method: str, outcome: CallOutcome, seconds: float) -> None: ...


@contextmanager
def observed(observer: CallObserver | None, vendor: str, method: str) -> Iterator[None]:
    """Time the block and tell `observer` how it ended (nothing at all when there is none)."""
    if observer is None:
        yield
        return
    start = time.perf_counter()
    outcome: CallOutcome | None = CallOutcome.OK
    try:
        yield
    except TransientError:
        outcome = CallOutcome.TRANSIENT
        raise
    except DeliveryError:
        outcome = CallOutcome.REJECTED
        raise
    except Exception:
        outcome = CallOutcome.ERROR
        raise
    except BaseException:  # cancelled: the call was abandoned, it did not end
        outcome = None
        raise
    finally:
        if outcome is not None:
            observer.called(vendor, method, outcome, time.perf_counter() - start)
