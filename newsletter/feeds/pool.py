"""A keep-alive connection pool for fetching feeds, used in place of httpcore's ConnectionPool.

httpcore's pool looks at every connection it holds on each request and again on each response
close (``is_idle``, ``has_expired`` with a ``poll()`` of the socket, a scan of every queued
request), so with 32 connections its bookkeeping cost more than the rest of a conditional GET:
a re-poll of 500 unchanged feeds called ``is_idle`` 120,000 times. This pool keeps idle
connections per origin on a stack, checks only the one it is about to reuse, and keeps the
same bounds: at most ``max_connections`` open connections (idle ones included, so a host never
sees more than that from one poll), at most ``max_keepalive_connections`` idle, each for at
most ``keepalive_expiry`` seconds. HTTP/1.1 only, as the feed client asks for.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator

import httpcore

_Key = tuple[
    bytes, bytes, int
]  # an origin's scheme, host and port (httpcore's Origin is unhashable)


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


class KeepAlivePool:
    """Connections by origin for many threads: one request at a time per connection, idle
    connections reused newest first, the oldest idle one closed to make room."""

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
        self._active = 0  # requests in flight, each on its own connection
        self._idle: dict[_Key, list[httpcore.HTTPConnection]] = {}
        self._idle_age: OrderedDict[httpcore.HTTPConnection, _Key] = OrderedDict()
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
        connection, stale = self._acquire(origin, key, timeouts.get("pool"))
        for old in stale:
            old.close()
        try:
            response = connection.handle_request(request)
        except BaseException:
            self._release(connection, key)
            raise
        assert isinstance(response.stream, Iterable)
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_ReleasingStream(response.stream, lambda: self._release(connection, key)),
            extensions=response.extensions,
        )

    def _acquire(
        self, origin: httpcore.Origin, key: _Key, timeout: float | None
    ) -> tuple[httpcore.HTTPConnection, list[httpcore.HTTPConnection]]:
        """A connection for ``origin`` (an idle one if any is usable, else a new one) and the
        connections to close (expired, or the oldest idle one when the pool is full)."""
        stale: list[httpcore.HTTPConnection] = []
        with self._lock:
            deadline = None if timeout is None else time.monotonic() + timeout
            while self._active >= self._max:
                left = None if deadline is None else deadline - time.monotonic()
                if self._closed:
                    raise httpcore.PoolTimeout("the connection pool is closed")
                if (left is not None and left <= 0) or not self._slot_freed.wait(left):
                    raise httpcore.PoolTimeout("no free connection within the pool timeout")
            if self._closed:
                raise httpcore.PoolTimeout("the connection pool is closed")
            self._active += 1
            stack = self._idle.get(key)
            while stack:
                connection = stack.pop()
                del self._idle_age[connection]
                # One poll() of this socket: a server that closed it makes it readable.
                if connection.is_available() and not connection.has_expired():
                    if not stack:
                        del self._idle[key]
                    return connection, stale
                stale.append(connection)
            self._idle.pop(key, None)
            if self._active + len(self._idle_age) > self._max:
                stale.append(self._pop_oldest_idle())
        connection = httpcore.HTTPConnection(
            origin=origin,
            ssl_context=self._ssl_context,
            keepalive_expiry=self._expiry,
            network_backend=self._backend,
        )
        return connection, stale

    def _pop_oldest_idle(self) -> httpcore.HTTPConnection:
        connection, key = self._idle_age.popitem(last=False)
        stack = self._idle[key]
        stack.remove(connection)
        if not stack:
            del self._idle[key]
        return connection

    def _release(self, connection: httpcore.HTTPConnection, key: _Key) -> None:
        """Back from a request: kept idle when it can take another, closed otherwise."""
        to_close: httpcore.HTTPConnection | None = None
        with self._lock:
            self._active -= 1
            if not self._closed and connection.is_available():
                self._idle.setdefault(key, []).append(connection)
                self._idle_age[connection] = key
                if len(self._idle_age) > self._max_idle:
                    to_close = self._pop_oldest_idle()
            else:
                to_close = connection
            self._slot_freed.notify()
        if to_close is not None:
            to_close.close()

    def close(self) -> None:
        """Close the idle connections; connections in use close when their response does."""
        with self._lock:
            self._closed = True
            idle = list(self._idle_age)
            self._idle.clear()
            self._idle_age.clear()
            self._slot_freed.notify_all()
        for connection in idle:
            connection.close()
