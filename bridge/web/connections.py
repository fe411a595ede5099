"""Who holds the server's connections: no client address may take them all, and a silent
connection gives its place to a new one when the server is full.

An attack that needs no secret: open connections and send nothing. Each is closed at the head
timeout and opened again, so `HTTP_MAX_CONNECTIONS` stay taken and webhooks get 503 (issue 23,
point 5: 3 of 56 webhooks answered). So:
- one client address holds at most `HTTP_MAX_CONNECTIONS_PER_CLIENT` connections (not a
  trusted proxy's, which speaks for many clients);
- when the server is full, a new connection takes the place of a silent one (awaiting a
  request head, not a byte of it come, also between two requests of a kept-alive one) of the
  address that holds the most (more than the newcomer's, or the newcomer's own), the one silent
  longest; with none, it is refused. A webhook's connection (its address holds few) therefore finds
  room and keeps it until its head comes, at once: many addresses that each hold their share
  of silent connections push out only their own, however fast they reconnect.
The decisions are here, without I/O; `bridge.web.server.GuardedProtocol` applies them.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable
from typing import Protocol, TypeVar


class Held(Protocol):
    """What the book needs to know of a connection."""

    @property
    def host(self) -> str | None:
        """The client address it came from."""

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
        self.total = 0

    def admit(self, host: str | None) -> bool:
        """Count a new connection from `host`; False (not counted) when it holds its share."""
        key = host or "-"
        if host not in self.proxies and self.by_client[key] >= self.per_client:
            return False
        self.by_client[key] += 1
        self.total += 1
        return True

    @property
    def admitted(self) -> int:
        """Connections admitted and not yet closed."""
        return self.total

    def leave(self, host: str | None) -> None:
        """Forget an admitted connection."""
        key = host or "-"
        self.total -= 1
        self.by_client[key] -= 1
        if self.by_client[key] <= 0:
            del self.by_client[key]

    def place_for(self, newcomer: C, connections: Iterable[C]) -> C | None:
        """The silent connection a newcomer takes the place of when the server is full: one
        of the address holding the most, more than the newcomer's, or one of its own; None:
        refuse it."""
        mine = self.by_client[newcomer.host or "-"]
        silent = [
            c
            for c in connections
            if c is not newcomer
            and c.silent_since is not None
            and (self.by_client[c.host or "-"] > mine or c.host == newcomer.host)
        ]
        return min(
            silent,
            key=lambda c: (-self.by_client[c.host or "-"], c.silent_since or 0.0),
            default=None,
        )
