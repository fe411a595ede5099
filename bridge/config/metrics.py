"""What the service counts as it works, for `/metrics` (Prometheus, `prometheus-client`).

Counters live in one registry of this process and are counted where things happen: the
webhook's result, an invitation posted, an answer's outcome, a default rating, every vendor
call. What the database knows (jobs waiting, the heartbeat, the request budget) is read at
scrape time instead (`bridge.web.gauges`), so that every replica reports the same truth.

Labels carry fixed names only (results, sources, method and route names): never a token,
a URL, a ticket or a person.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.process_collector import ProcessCollector

from outbound.observe import CallOutcome

PREFIX = "okdesk_rating_"
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

WEBHOOKS = Counter(
    PREFIX + "webhooks",
    "Okdesk webhooks received, by result: what the closure meant, or refused_<HTTP status>.",
    ["result"],
    registry=REGISTRY,
)
INVITATIONS = Counter(
    PREFIX + "invitations_sent",
    "Invitations posted to a Bitrix24 user.",
    registry=REGISTRY,
)
ANSWERS = Counter(
    PREFIX + "answers",
    "Answers to surveys by source (click, text, automatic) and what became of them.",
    ["source", "outcome"],
    registry=REGISTRY,
)
VENDOR_CALLS = Counter(
    PREFIX + "vendor_calls",
    "Requests to Okdesk and Bitrix24 by vendor, method and outcome.",
    ["vendor", "method", "outcome"],
    registry=REGISTRY,
)
BITRIX_REQUESTS = Counter(
    PREFIX + "bitrix_requests",
    "Requests to Bitrix24 by portal (its name) and outcome.",
    ["portal", "outcome"],
    registry=REGISTRY,
)
VENDOR_SECONDS = Histogram(
    PREFIX + "vendor_call_seconds",
    "How long requests to Okdesk and Bitrix24 took, by vendor and method.",
    ["vendor", "method"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)


def webhook(result: str) -> None:
    """Count an Okdesk webhook by its result."""
    WEBHOOKS.labels(result=result).inc()


def invitation_sent() -> None:
    """Count an invitation Bitrix24 accepted."""
    INVITATIONS.inc()


def answered(source: str, outcome: str, count: int = 1) -> None:
    """Count answers (`click`, `text` or `automatic`) by what became of them."""
    if count:
        ANSWERS.labels(source=source, outcome=outcome).inc(count)


class PrometheusObserver:
    """An `outbound.observe.CallObserver` feeding the vendor-call metrics; `portal`: the name
    of the Bitrix24 portal whose client it watches (its requests are counted by portal too)."""

    def __init__(self, portal: str | None = None) -> None:
        self._portal = portal

    def called(self, vendor: str, method: str, outcome: CallOutcome, seconds: float) -> None:
        VENDOR_CALLS.labels(vendor=vendor, method=method, outcome=outcome.value).inc()
        VENDOR_SECONDS.labels(vendor=vendor, method=method).observe(seconds)
        if self._portal is not None:
            BITRIX_REQUESTS.labels(portal=self._portal, outcome=outcome.value).inc()
