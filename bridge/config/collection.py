"""The garbage collector, set for a service: what lives as long as the process is out of its
sight, and the young objects are collected in larger, rarer rounds.

Refcounting frees nearly everything a request or a job makes; the collector is there for the
cycles. CPython's defaults suit a short script, not a process that makes and drops objects by
the hundred thousand (`python -m bench --pace`, docs/benchmark.md, the seventh round).
"""

from __future__ import annotations

import gc

# New container objects between two collections of the young generation (CPython: 700). The
# older generations keep CPython's 10: each is collected after ten of the one below.
YOUNG_COLLECTION_AFTER = 10_000


def keep_out_of_collection() -> None:
    """Move what is imported and built before serving (modules, models, SQL and schema caches:
    most of the process's objects) out of the collector's sight, for good, and collect the
    young objects every `YOUNG_COLLECTION_AFTER` new containers.

    - The long-lived objects: every full collection walked them all, and the event loop
      stopped for ~80 ms every few hundred webhooks; those stops were the webhook answers'
      p99 (`python -m bench`, table 1). Refcounting still frees them if they go.
    - The young rounds: with CPython's 700, a burst of 1,000 closures on PostgreSQL made
      ~350 young collections, 31 of the middle generation and 2 full ones after the start,
      280–290 ms of the service's CPU (~6 %). With 10,000: 9–10 young ones and none else,
      34–63 ms. Each young round then walks up to 10,000 objects, a pause of 4–6 ms.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_AFTER, middle, old)
