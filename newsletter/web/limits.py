"""Who is asking and how often: the client address and in-memory sliding-window rate limits.

The limits live in the memory of one process: with several workers each one counts on its
own (so the effective limit is the setting times the number of workers), and a restart
forgets them. That is enough against a script hammering the form; put a limit in the reverse
proxy too if you need a hard one.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable


def client_ip(peer: str | None, forwarded_for: str | None, trust_proxy: bool) -> str:
    """The client's address: the socket peer, or with ``trust_proxy`` the right-most valid
    address of X-Forwarded-For (the one our own proxy appended; entries to its left are
    whatever the client sent and prove nothing)."""
    if trust_proxy and forwarded_for:
        for entry in reversed(forwarded_for.split(",")):
            candidate = entry.strip()
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                continue
    return peer or "unknown"


def rate_key(ip: str) -> str:
    """The key an address is limited under: IPv6 clients by their /64 (one customer's
    network, where a client can pick any address it likes), IPv4 by the address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


class RequestRateLimiter:
    """At most ``limit`` hits per key in any ``window`` seconds (a sliding window log).

    Thread-safe (route handlers run in a thread pool). It remembers at most ``max_keys`` keys;
    beyond that the least recently seen ones are forgotten, so memory stays bounded.
    """

    def __init__(
        self,
        limit: int,
        window: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Count a hit for the key: True if it is within the limit, False (not counted) if not."""
        now = self.clock()
        with self._lock:
            hits = self._hits.pop(key, None) or deque()
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            allowed = len(hits) < self.limit
            if allowed:
                hits.append(now)
            if hits:
                self._hits[key] = hits  # most recently seen last
            while len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
            return allowed

    def __len__(self) -> int:
        return len(self._hits)


__all__ = ["RequestRateLimiter", "client_ip", "rate_key"]
