"""A test-only service entry point that dies between handling fetched imbot.v2 events and
storing the offset that acknowledges them, to prove that a replay rates nothing twice.

`python -m tests.chaos.faulty_service` runs `python -m bridge`, except that the process exits
at once (code 137, as if killed) the first time the event poller, having handled a click,
reaches the step before its offset is saved. Production code has no such switch.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from bot.events import RatingClick
from bot.v2.events_v2 import FetchedEvent
from bridge import __main__ as service
from bridge.web import polling


class DyingPoller(polling.EventPoller):
    """The event poller, killed after it handled a click and before it acknowledged it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs, checkpoint=self._die_after_a_click)
        self._clicked = False

    def _handle(self, bot: int, fetched: FetchedEvent) -> None:
        super()._handle(bot, fetched)
        self._clicked |= any(isinstance(event, RatingClick) for event in fetched.events)

    def _die_after_a_click(self, point: str) -> None:
        if point == "before_offset_saved" and self._clicked:
            logging.getLogger(__name__).warning("poller.fault_injected point=%s", point)
            os._exit(137)


if __name__ == "__main__":
    polling.EventPoller = DyingPoller  # type: ignore[misc]
    sys.exit(service.main())
