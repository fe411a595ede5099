"""A test-only worker entry point that kills itself at a chosen step, to prove recovery.

`FAULT_AT=after_claim|after_vendor_call python -m tests.chaos.faulty_worker` runs
`python -m bridge.worker --once`, except that the process exits at once (code 137, as if
killed) the first time the worker reaches that step. Production code has no such switch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from bridge.config.logs import setup_logging
from bridge.config.settings import settings_or_exit
from bridge.worker.loop import work
from storage.migrate import upgrade_or_exit

POINTS = ("after_claim", "after_vendor_call")


def main() -> int:
    """Drain what is due like `--once`, dying at the step named by FAULT_AT."""
    point = os.environ.get("FAULT_AT", "")
    if point not in POINTS:
        sys.stderr.write(f"FAULT_AT must be one of {', '.join(POINTS)}\n")
        return 2
    settings = settings_or_exit()
    setup_logging(settings)
    upgrade_or_exit(settings.database_url)

    def die_at(reached: str) -> None:
        if reached == point:
            logging.getLogger(__name__).warning("worker.fault_injected point=%s", point)
            os._exit(137)

    asyncio.run(work(settings, once=True, checkpoint=die_at))
    return 0


if __name__ == "__main__":
    sys.exit(main())
