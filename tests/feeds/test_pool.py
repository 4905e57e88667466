"""newsletter.feeds.pool, the feed client's keep-alive pool, against real loopback servers:
reuse, the bound on open connections, the pool timeout, servers that close idle connections,
expiry and closing."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import httpcore
import pytest

from newsletter.demo.server import FeedHandler, FeedServer, Route
from newsletter.errors import FeedError
from newsletter.feeds import guard
from newsletter.feeds.fetch import FetchLimits, Validators, fetch_feed, make_client
from newsletter.feeds.guard import TrustOnDemand
from newsletter.feeds.pool import KeepAlivePool

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
LIMITS = FetchLimits(timeout=5.0, max_bytes=1024 * 1024, allow_private=True)


class _Counting(FeedHandler):
    """Counts the connections open at once, over every server using this handler, and the
    client port of each request (one port per connection)."""

    lock: ClassVar[threading.Lock] = threading.Lock()
    open_now: ClassVar[int] = 0
    peak: ClassVar[int] = 0
    ports: ClassVar[list[int]] = []
    connections: ClassVar[int] = 0  # accepted, over every server (a client port can repeat)

    def setup(self) -> None:
        super().setup()
        with _Counting.lock:
            _Counting.open_now += 1
            _Counting.peak = max(_Counting.peak, _Counting.open_now)
            _Counting.connections += 1

    def finish(self) -> None:
        try:
            super().finish()
            if self.close_connection:
                # The server closes the socket only after finish(): send the FIN first, so
                # that "no connection open" means the client can see it closed (on a loaded
                # machine the client used to win that race and reuse the connection).
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
        finally:
            with _Counting.lock:
                _Counting.open_now -= 1

    def do_GET(self) -> None:
        with _Counting.lock:
            _Counting.ports.append(self.client_address[1])
        super().do_GET()

    @classmethod
    def reset(cls) -> None:
        with cls.lock:
            cls.open_now = cls.peak = cls.connections = 0
            cls.ports = []


class _ClosesAfterReply(_Counting):
    """Answers keep-alive (no "Connection: close"), then closes the socket anyway, as a
    server whose keep-alive timeout ran out does."""

    def answer(self, route: Route) -> None:
        super().answer(route)
        self.close_connection = True


@pytest.fixture
def servers() -> Iterator[list[FeedServer]]:
    _Counting.reset()
    routes = {f"/{n}.xml": Route(FEED, delay=0.02) for n in range(30)}
    with (
        FeedServer(routes, handler=_Counting) as a,
        FeedServer(routes, handler=_Counting) as b,
        FeedServer(routes, handler=_Counting) as c,
    ):
        yield [a, b, c]


def _wait_for(condition: object, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if callable(condition) and condition():
            return True
        time.sleep(0.01)
    return False


class _OpenSockets:
    """Counts the client's open sockets: wraps the feed transport's connect_tcp."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.opened = 0

    def connect(self, original: Any) -> Any:
        def connect_tcp(backend: Any, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
            stream = original(backend, *args, **kwargs)
            with self.lock:
                self.now += 1
                self.opened += 1
                self.peak = max(self.peak, self.now)
            return _CountedStream(stream, self)

        return connect_tcp

    def closed(self) -> None:
        with self.lock:
            self.now -= 1


class _CountedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, sockets: _OpenSockets) -> None:
        self._inner = inner
        self._sockets = sockets
        self._closed = False

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sockets.closed()
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def test_many_threads_over_three_hosts_never_open_more_than_the_limit(
    servers: list[FeedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    sockets = _OpenSockets()
    monkeypatch.setattr(guard._Backend, "connect_tcp", sockets.connect(guard._Backend.connect_tcp))
    urls = [server.url(f"/{n}.xml") for n in range(30) for server in servers]
    with make_client(LIMITS, max_connections=4) as http, ThreadPoolExecutor(16) as threads:
        bodies = list(
            threads.map(lambda url: fetch_feed(http, url, Validators(), LIMITS).body, urls)
        )
        assert bodies == [FEED] * 90
        assert 1 <= sockets.peak <= 4
        # Some connections were reused (hosts take turns, so a full pool often closes an idle
        # connection of another host to open one: the bound comes first).
        assert sockets.opened < 90
        # Every socket the client opened reached a server (counted there, not by client port:
        # the kernel may give the same port to connections to two of the three servers).
        assert _Counting.connections == sockets.opened
    assert sockets.now == 0  # closing the client closed every socket


def test_a_new_host_closes_the_oldest_idle_connection_when_the_pool_is_full(
    servers: list[FeedServer],
) -> None:
    pool = _pool(max_connections=2)
    try:
        for server in servers:
            assert _get(pool, server.url("/1.xml")) == FEED
            assert pool.open_connections <= 2
        # The first host's connection made room for the third's.
        assert _wait_for(lambda: _Counting.open_now == 2)
        assert _Counting.peak <= 3  # the third opened while the first was being closed
    finally:
        pool.close()
    assert pool.open_connections == 0
    assert _wait_for(lambda: _Counting.open_now == 0)


def test_a_request_waits_for_a_free_connection_and_times_out_as_a_pool_timeout(
    servers: list[FeedServer],
) -> None:
    pool = _pool(max_connections=1)
    try:
        held = pool.handle_request(_request(servers[0].url("/1.xml")))  # not closed yet
        started = time.monotonic()
        with pytest.raises(httpcore.PoolTimeout, match="pool timeout"):
            pool.handle_request(_request(servers[1].url("/1.xml"), pool_timeout=0.2))
        assert time.monotonic() - started >= 0.2
        with ThreadPoolExecutor(1) as other:
            waiting = other.submit(_get, pool, servers[1].url("/2.xml"))
            time.sleep(0.1)
            assert not waiting.done()  # waits for the held connection
            _close(held)
            assert waiting.result(timeout=5) == FEED
    finally:
        pool.close()


def test_a_pool_timeout_reaches_fetch_feed_as_a_feed_error(servers: list[FeedServer]) -> None:
    limits = FetchLimits(timeout=1.0, max_bytes=1024 * 1024, allow_private=True)
    with make_client(limits, max_connections=1) as http:
        pool = http._transport._open._pool  # type: ignore[attr-defined]
        held = pool.handle_request(_request(servers[0].url("/1.xml")))
        try:
            with pytest.raises(FeedError, match=r"timed out after 1s"):
                fetch_feed(http, servers[1].url("/1.xml"), Validators(), limits)
        finally:
            _close(held)
        assert fetch_feed(http, servers[1].url("/1.xml"), Validators(), limits).body == FEED


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    _Counting.reset()
    routes = {f"/{n}.xml": Route(FEED) for n in range(3)}
    with FeedServer(routes, handler=_ClosesAfterReply) as server:
        pool = _pool(max_connections=4)
        try:
            for n in range(3):
                assert _get(pool, server.url(f"/{n}.xml")) == FEED
                assert _wait_for(lambda: _Counting.open_now == 0)
        finally:
            pool.close()
    assert len(set(_Counting.ports)) == 3  # a fresh connection each time, no failed request


def test_an_expired_idle_connection_is_not_reused(servers: list[FeedServer]) -> None:
    pool = _pool(max_connections=4, keepalive_expiry=0.0)
    try:
        for n in range(3):
            assert _get(pool, servers[0].url(f"/{n}.xml")) == FEED
            time.sleep(0.01)
    finally:
        pool.close()
    assert len(set(_Counting.ports)) == 3


def test_sequential_requests_to_one_host_share_one_connection(
    servers: list[FeedServer],
) -> None:
    pool = _pool(max_connections=4)
    try:
        for n in range(10):
            assert _get(pool, servers[0].url(f"/{n}.xml")) == FEED
        assert pool.open_connections == 1
    finally:
        pool.close()
    assert len(set(_Counting.ports)) == 1


def test_a_closed_pool_refuses_requests(servers: list[FeedServer]) -> None:
    pool = _pool(max_connections=1)
    pool.close()
    with pytest.raises(httpcore.ConnectError, match="pool is closed"):
        _get(pool, servers[0].url("/1.xml"))


def test_waiting_requests_are_served_in_turn_without_pool_timeouts(
    servers: list[FeedServer],
) -> None:
    """Twelve threads, two connections: a thread that releases a connection never takes it
    back ahead of the requests already waiting, so none waits past a generous pool timeout
    (each waits for about six requests; the timeout is far above that on a slow machine)."""
    pool = _pool(max_connections=2)
    urls = [servers[n % 3].url(f"/{n % 30}.xml") for n in range(240)]
    try:
        with ThreadPoolExecutor(12) as threads:
            bodies = list(threads.map(lambda url: _get(pool, url, pool_timeout=20.0), urls))
    finally:
        pool.close()
    assert bodies == [FEED] * 240


def test_a_slot_freed_while_a_waiter_times_out_goes_to_the_next_waiter(
    servers: list[FeedServer],
) -> None:
    pool = _pool(max_connections=1)
    try:
        held = pool.handle_request(_request(servers[0].url("/1.xml")))
        with ThreadPoolExecutor(2) as others:
            short = others.submit(_get, pool, servers[1].url("/1.xml"), 0.1)
            time.sleep(0.02)
            patient = others.submit(_get, pool, servers[1].url("/2.xml"), 5.0)
            with pytest.raises(httpcore.PoolTimeout):
                short.result(timeout=5)
            _close(held)
            assert patient.result(timeout=5) == FEED
    finally:
        pool.close()


def test_idle_connections_past_their_expiry_are_closed_whatever_their_host(
    servers: list[FeedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    sockets = _OpenSockets()
    monkeypatch.setattr(guard._Backend, "connect_tcp", sockets.connect(guard._Backend.connect_tcp))
    pool = KeepAlivePool(
        ssl_context=TrustOnDemand().context,
        max_connections=4,
        max_keepalive_connections=4,
        keepalive_expiry=1.0,
        network_backend=guard._Backend(check=False),
    )
    try:
        for server in servers:
            assert _get(pool, server.url("/1.xml")) == FEED
        assert sockets.now == 3
        time.sleep(1.2)
        assert _get(pool, servers[0].url("/2.xml")) == FEED  # a new connection; the rest go
        assert sockets.now == 1
    finally:
        pool.close()
    assert sockets.now == 0


def test_unsupported_schemes_are_refused() -> None:
    pool = _pool(max_connections=1)
    with pytest.raises(httpcore.UnsupportedProtocol):
        pool.handle_request(httpcore.Request("GET", "ftp://127.0.0.1/feed.xml"))


def _pool(max_connections: int, keepalive_expiry: float | None = 5.0) -> KeepAlivePool:
    return KeepAlivePool(
        ssl_context=TrustOnDemand().context,
        max_connections=max_connections,
        max_keepalive_connections=max_connections,
        keepalive_expiry=keepalive_expiry,
        network_backend=httpcore.SyncBackend(),
    )


def _request(url: str, pool_timeout: float = 2.0) -> httpcore.Request:
    host = url.split("/")[2]
    return httpcore.Request(
        "GET",
        url,
        headers=[(b"Host", host.encode())],
        extensions={"timeout": {"pool": pool_timeout, "read": 5.0, "connect": 5.0}},
    )


def _close(response: httpcore.Response) -> None:
    close = getattr(response.stream, "close", None)
    if close is not None:
        close()


def _get(pool: KeepAlivePool, url: str, pool_timeout: float = 2.0) -> bytes:
    response = pool.handle_request(_request(url, pool_timeout))
    try:
        assert isinstance(response.stream, Iterable)
        return b"".join(response.stream)
    finally:
        _close(response)
