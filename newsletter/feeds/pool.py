"""A keep-alive connection pool for fetching feeds, used in place of httpcore's ConnectionPool.

httpcore's pool looks at every connection it holds on each request and again on each response
close (``is_idle``, ``has_expired`` with a ``poll()`` of the socket, a scan of every queued
request), so with 32 connections its bookkeeping cost more than the rest of a conditional GET:
a re-poll of 500 unchanged feeds called ``is_idle`` 120,000 times. This pool keeps idle
connections per origin on a stack, checks only the one it is about to reuse, and keeps the
same bounds: at most ``max_connections`` open connections (idle ones included), at most
``max_keepalive_connections`` idle, each for at most ``keepalive_expiry`` seconds (expired ones
are closed on the next request, whatever their host). Requests that find every connection in
use wait in line, up to the pool timeout. HTTP/1.1 only, as the feed client asks for. The feed
client has two pools (``guard.GuardedTransport``: address-checked requests, and requests
allowed to reach private addresses), each with these bounds.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial

import httpcore

# An origin's scheme, host and port (httpcore's Origin is not hashable).
_Key = tuple[bytes, bytes, int]


class _ReleasingStream:
    """A response body that gives its connection back to the pool when closed (once)."""

    def __init__(self, inner: Iterable[bytes], release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release
        self._released = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()  # an HTTP/1.1 body read to its end leaves its connection idle
        finally:
            self._release()


class _Ticket:
    """A request waiting for a connection; ``granted`` once a released slot is handed to it."""

    __slots__ = ("granted",)

    def __init__(self) -> None:
        self.granted = False


class KeepAlivePool:
    """Connections by origin for many threads: one request at a time per connection, idle
    connections reused newest first, the oldest idle one closed to make room, and requests
    that wait for a connection served in the order they came (a released slot is handed to the
    first waiter, never taken back by the thread that released it)."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        max_keepalive_connections: int,
        keepalive_expiry: float | None,
        network_backend: httpcore.NetworkBackend,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._ssl_context = ssl_context
        self._max = max_connections
        self._max_idle = min(max_keepalive_connections, max_connections)
        self._expiry = keepalive_expiry
        self._backend = network_backend
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._active = 0  # slots taken: requests in flight, each on its own connection
        self._waiting: deque[_Ticket] = deque()
        self._idle: dict[_Key, list[httpcore.HTTPConnection]] = {}
        # Idle connections, oldest first, with when each became idle.
        self._idle_age: OrderedDict[httpcore.HTTPConnection, tuple[_Key, float]] = OrderedDict()
        self._closed = False

    @property
    def open_connections(self) -> int:
        """Connections in use plus idle ones (for tests and diagnostics)."""
        with self._lock:
            return self._active + len(self._idle_age)

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        scheme = request.url.scheme
        if scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol(f"unsupported URL scheme {scheme.decode()!r}")
        timeouts = request.extensions.get("timeout", {})
        origin = request.url.origin
        key = (origin.scheme, origin.host, origin.port)
        self._take_slot(timeouts.get("pool"))
        connection: httpcore.HTTPConnection | None = None
        try:
            connection, stale = self._connection_for(origin, key)
            for old in stale:
                old.close()
            response = connection.handle_request(request)
        except BaseException:
            if connection is None:
                self._give_back_slot()
            else:
                self._release(connection, key)
            raise
        assert isinstance(response.stream, Iterable)
        # The connection's own response, its body wrapped (a new httpcore.Response would check
        # every header's type again, on every request).
        response.stream = _ReleasingStream(response.stream, partial(self._release, connection, key))
        return response

    def _take_slot(self, timeout: float | None) -> None:
        """Count one more request in flight, waiting in line (up to ``timeout`` seconds) while
        ``max_connections`` are in use."""
        with self._lock:
            if self._closed:
                raise httpcore.ConnectError("the connection pool is closed")
            if self._active < self._max and not self._waiting:
                self._active += 1
                return
            ticket = _Ticket()
            self._waiting.append(ticket)
            deadline = None if timeout is None else time.monotonic() + timeout
            while not ticket.granted:  # checked before any timeout: a slot may have come
                left = None if deadline is None else deadline - time.monotonic()
                if self._closed or (left is not None and left <= 0):
                    self._waiting.remove(ticket)
                    if self._closed:
                        raise httpcore.ConnectError("the connection pool is closed")
                    raise httpcore.PoolTimeout("no free connection within the pool timeout")
                self._slot_freed.wait(left)
            if self._closed:
                self._active -= 1
                self._hand_over()
                raise httpcore.ConnectError("the connection pool is closed")

    def _connection_for(
        self, origin: httpcore.Origin, key: _Key
    ) -> tuple[httpcore.HTTPConnection, list[httpcore.HTTPConnection]]:
        """A connection for ``origin`` (an idle one if any is usable, else a new one) and the
        connections to close: expired ones, or the oldest idle one when the pool is full."""
        stale: list[httpcore.HTTPConnection] = []
        with self._lock:
            if self._expiry is not None:
                # Idle connections past their expiry go, whatever their host, oldest first.
                limit = time.monotonic() - self._expiry
                while self._idle_age:
                    oldest, (_, since) = next(iter(self._idle_age.items()))
                    if since > limit:
                        break
                    stale.append(self._pop_idle(oldest))
            stack = self._idle.get(key)
            while stack:
                connection = self._pop_idle(stack[-1])
                # One poll() of this socket: a server that closed it makes it readable.
                if connection.is_available() and not connection.has_expired():
                    return connection, stale
                stale.append(connection)
            if self._active + len(self._idle_age) > self._max:
                stale.append(self._pop_idle(next(iter(self._idle_age))))
        connection = httpcore.HTTPConnection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._expiry,
            network_backend=self._backend,
        )
        return connection, stale

    def _pop_idle(self, connection: httpcore.HTTPConnection) -> httpcore.HTTPConnection:
        key, _ = self._idle_age.pop(connection)
        stack = self._idle[key]
        stack.remove(connection)
        if not stack:
            del self._idle[key]
        return connection

    def _hand_over(self) -> None:
        """Give free slots to the requests waiting longest (the lock is held)."""
        granted = False
        while self._waiting and self._active < self._max:
            self._waiting.popleft().granted = True
            self._active += 1
            granted = True
        if granted:
            self._slot_freed.notify_all()

    def _give_back_slot(self) -> None:
        with self._lock:
            self._active -= 1
            self._hand_over()

    def _release(self, connection: httpcore.HTTPConnection, key: _Key) -> None:
        """Back from a request: kept idle when it can take another, closed otherwise."""
        to_close: list[httpcore.HTTPConnection] = []
        with self._lock:
            self._active -= 1
            if not self._closed and connection.is_available():
                self._idle.setdefault(key, []).append(connection)
                self._idle_age[connection] = (key, time.monotonic())
                if len(self._idle_age) > self._max_idle:
                    to_close.append(self._pop_idle(next(iter(self._idle_age))))
            else:
                to_close.append(connection)
            self._hand_over()
        for old in to_close:
            old.close()

    def close(self) -> None:
        """Close the idle connections; connections in use close when their response does,
        and requests waiting for a connection fail."""
        with self._lock:
            self._closed = True
            idle = list(self._idle_age)
            self._idle.clear()
            self._idle_age.clear()
            self._slot_freed.notify_all()
        for connection in idle:
            connection.close()
