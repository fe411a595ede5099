"""Who holds the server's connections: no client address may take them all, and a silent
connection gives its place to a new one when the server is full.

An attack that needs no secret: open connections and send nothing. Each is closed at the head
timeout and opened again, so `HTTP_MAX_CONNECTIONS` stay taken and webhooks get 503 (issue 23,
point 5: 3 of 56 webhooks answered). So:
- one client address holds at most `HTTP_MAX_CONNECTIONS_PER_CLIENT` connections (not a
  trusted proxy's, which speaks for many clients);
- when the server is full, the connection that has been silent longest (awaiting a request
  head, not a byte of it come, also between two requests of a kept-alive one) is closed for a
  new one. A request that arrives (a webhook with its secret, at once) therefore always finds
  room; only connections that say nothing are pushed out.
The decisions are here, without I/O; `bridge.server.GuardedProtocol` applies them.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from typing import Protocol, TypeVar


class Held(Protocol):
    """What the book needs to know of a connection."""

    @property
    def silent_since(self) -> float | None:
        """Since when it has awaited a head with no byte of it come; None while in use."""


class Trusted:
    """Addresses of the trusted proxies (`TRUSTED_PROXIES`: addresses or networks)."""

    def __init__(self, proxies: Iterable[str]) -> None:
        self._networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    def __contains__(self, host: str | None) -> bool:
        if host is None or not self._networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._networks)


C = TypeVar("C", bound=Held)


class ConnectionBook:
    """The open connections by client address, and the choice of whom to refuse or close."""

    def __init__(self, per_client: int, proxies: Trusted | None = None) -> None:
        self.per_client = per_client
        self.proxies = proxies or Trusted(())
        self.by_client: Counter[str] = Counter()

    def admit(self, host: str | None) -> bool:
        """Count a new connection from `host`; False (not counted) when it holds its share."""
        key = host or "-"
        if host not in self.proxies and self.by_client[key] >= self.per_client:
            return False
        self.by_client[key] += 1
        return True

    def leave(self, host: str | None) -> None:
        """Forget an admitted connection."""
        key = host or "-"
        self.by_client[key] -= 1
        if self.by_client[key] <= 0:
            del self.by_client[key]


def longest_silent(connections: Iterable[C], besides: C) -> C | None:
    """The connection silent the longest (other than `besides`), or None if none is silent."""
    silent = [c for c in connections if c is not besides and c.silent_since is not None]
    return min(silent, key=lambda c: c.silent_since or 0.0, default=None)
