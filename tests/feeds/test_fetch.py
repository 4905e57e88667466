"""newsletter.feeds.fetch against a real loopback HTTP server: validators, redirects, limits, hosts."""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import ClassVar

import httpx
import pytest

from newsletter import PRODUCT, __version__
from newsletter.demo.server import FeedHandler, FeedServer, Route
from newsletter.errors import FeedError
from newsletter.feeds.fetch import (
    MAX_REDIRECTS,
    USER_AGENT,
    FetchLimits,
    Validators,
    fetch_feed,
    make_client,
)
from newsletter.feeds.guard import check_address

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><title>Hello</title><guid>g1</guid></item></channel></rss>"
)
LIMITS = FetchLimits(timeout=5.0, max_bytes=1024 * 1024, allow_private=True)
NO_VALIDATORS = Validators()


@pytest.fixture(scope="module")
def module_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def feed_server(module_server: FeedServer) -> FeedServer:
    """conftest's loopback server, shared by this module: stopping one costs 0.5 s (the
    serve_forever poll interval), which adds up over forty small tests. State is reset."""
    module_server.routes.clear()
    module_server.requests.clear()
    return module_server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(LIMITS) as http:
        yield http


def requests_to(server: FeedServer, path: str) -> list[dict[str, str]]:
    return [headers for seen, headers in server.requests if seen == path]


# -- plain fetches and validators ----------------------------------------------------------------


def test_fetch_returns_body_content_type_and_validators(
    feed_server: FeedServer, client: httpx.Client
) -> None:
    feed_server.routes["/feed.xml"] = Route(
        FEED,
        "application/rss+xml; charset=utf-8",
        headers={"Last-Modified": "Wed, 18 Nov 2026 09:00:00 GMT"},
    )
    result = fetch_feed(client, feed_server.url("/feed.xml"), NO_VALIDATORS, LIMITS)
    assert result.status == 200 and not result.not_modified
    assert result.body == FEED
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.url == feed_server.url("/feed.xml")
    assert result.validators.etag is not None and result.validators.etag.startswith('"')
    assert result.validators.last_modified == "Wed, 18 Nov 2026 09:00:00 GMT"


def test_user_agent_names_the_product(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/feed.xml"] = Route(FEED)
    fetch_feed(client, feed_server.url("/feed.xml"), NO_VALIDATORS, LIMITS)
    (headers,) = requests_to(feed_server, "/feed.xml")
    assert headers["user-agent"] == USER_AGENT
    assert headers["user-agent"].startswith(f"{PRODUCT}/{__version__} ")
    assert "rss+xml" in headers["accept"] and "gzip" in headers["accept-encoding"]


def test_stored_validators_are_sent_and_304_is_success(
    feed_server: FeedServer, client: httpx.Client
) -> None:
    feed_server.routes["/feed.xml"] = Route(FEED)
    first = fetch_feed(client, feed_server.url("/feed.xml"), NO_VALIDATORS, LIMITS)
    stored = Validators(first.validators.etag, "Wed, 18 Nov 2026 09:00:00 GMT")

    second = fetch_feed(client, feed_server.url("/feed.xml"), stored, LIMITS)
    assert second.not_modified and second.status == 304
    assert second.body is None
    assert second.validators == stored  # kept for the next poll

    first_headers, second_headers = requests_to(feed_server, "/feed.xml")
    assert "if-none-match" not in first_headers
    assert second_headers["if-none-match"] == first.validators.etag
    assert second_headers["if-modified-since"] == "Wed, 18 Nov 2026 09:00:00 GMT"


class _ConnectionRecorder(FeedHandler):
    """Records the client's (address, port) of every request: one port per connection."""

    ports: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        _ConnectionRecorder.ports.append(self.client_address[1])
        super().do_GET()


def test_re_polls_of_one_host_reuse_one_connection() -> None:
    """A 304 goes back to the pool: re-polling twenty unchanged feeds of one host, one after
    the other, opens one connection, not twenty (each would be a TCP and a TLS handshake)."""
    routes = {f"/{n}.xml": Route(FEED) for n in range(20)}
    _ConnectionRecorder.ports = []
    with FeedServer(routes, handler=_ConnectionRecorder) as server, make_client(LIMITS) as http:
        first = {
            path: fetch_feed(http, server.url(path), NO_VALIDATORS, LIMITS).validators
            for path in routes
        }
        _ConnectionRecorder.ports = []
        for path, validators in first.items():
            assert fetch_feed(http, server.url(path), validators, LIMITS).not_modified
    assert len(_ConnectionRecorder.ports) == 20
    assert len(set(_ConnectionRecorder.ports)) == 1


def test_redirects_of_one_host_reuse_one_connection() -> None:
    """A small redirect body is read, so the hop's connection serves the next request."""
    routes = {f"/{n}.xml": Route(FEED) for n in range(5)}
    routes |= {
        f"/old/{n}.xml": Route(b"moved", status=301, headers={"Location": f"/{n}.xml"})
        for n in range(5)
    }
    _ConnectionRecorder.ports = []
    with FeedServer(routes, handler=_ConnectionRecorder) as server, make_client(LIMITS) as http:
        for n in range(5):
            assert fetch_feed(http, server.url(f"/old/{n}.xml"), NO_VALIDATORS, LIMITS).body == FEED
    assert len(_ConnectionRecorder.ports) == 10
    assert len(set(_ConnectionRecorder.ports)) == 1


class _CookieGate(FeedHandler):
    """/gate sets a cookie and redirects to /feed.xml, which answers 403 without it (the
    cookie check some CDNs put in front of a feed)."""

    def do_GET(self) -> None:
        if self.path == "/gate":
            self.reply(302, b"", None, {"Location": "/feed.xml", "Set-Cookie": "pass=ok; Path=/"})
            return
        if "pass=ok" not in (self.headers.get("Cookie") or ""):
            self.reply(403, b"no cookie", "text/plain", {})
            return
        super().do_GET()


def test_a_cookie_set_on_a_redirect_is_sent_on_the_next_hop_and_later_fetches() -> None:
    with (
        FeedServer({"/feed.xml": Route(FEED)}, handler=_CookieGate) as server,
        make_client(LIMITS) as http,
    ):
        assert fetch_feed(http, server.url("/gate"), NO_VALIDATORS, LIMITS).body == FEED
        assert fetch_feed(http, server.url("/feed.xml"), NO_VALIDATORS, LIMITS).body == FEED
    with (
        FeedServer({"/feed.xml": Route(FEED)}, handler=_CookieGate) as server,
        make_client(LIMITS) as http,
        pytest.raises(FeedError, match="HTTP 403"),
    ):
        fetch_feed(http, server.url("/feed.xml"), NO_VALIDATORS, LIMITS)  # a new client has none


def test_changed_feed_with_old_etag_returns_the_new_body(
    feed_server: FeedServer, client: httpx.Client
) -> None:
    feed_server.routes["/feed.xml"] = Route(FEED)
    first = fetch_feed(client, feed_server.url("/feed.xml"), NO_VALIDATORS, LIMITS)
    changed = FEED.replace(b"Hello", b"Changed")
    feed_server.routes["/feed.xml"] = Route(changed)
    second = fetch_feed(client, feed_server.url("/feed.xml"), first.validators, LIMITS)
    assert second.status == 200 and second.body == changed
    assert second.validators.etag != first.validators.etag


# -- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_followed(feed_server: FeedServer, client: httpx.Client, status: int) -> None:
    feed_server.routes["/old"] = Route(status=status, headers={"Location": "/middle"}, etag=False)
    feed_server.routes["/middle"] = Route(
        status=301, headers={"Location": feed_server.url("/new.xml")}, etag=False
    )
    feed_server.routes["/new.xml"] = Route(FEED)
    result = fetch_feed(client, feed_server.url("/old"), NO_VALIDATORS, LIMITS)
    assert result.status == 200 and result.body == FEED
    assert result.url == feed_server.url("/new.xml")  # the final URL, to update the feed
    assert [path for path, _ in feed_server.requests] == ["/old", "/middle", "/new.xml"]


def test_redirect_loop_stops_with_a_clear_error(
    feed_server: FeedServer, client: httpx.Client
) -> None:
    feed_server.routes["/a"] = Route(status=302, headers={"Location": "/b"}, etag=False)
    feed_server.routes["/b"] = Route(status=302, headers={"Location": "/a#again"}, etag=False)
    with pytest.raises(FeedError) as info:
        fetch_feed(client, feed_server.url("/a"), NO_VALIDATORS, LIMITS)
    a, b = feed_server.url("/a"), feed_server.url("/b")
    assert str(info.value) == f"redirect loop: {a} -> {b} -> {a}; check the feed URL"
    assert len(feed_server.requests) == 2  # stopped when /a came round again, not after 5 hops


def test_too_many_redirects(feed_server: FeedServer, client: httpx.Client) -> None:
    for n in range(MAX_REDIRECTS + 2):
        feed_server.routes[f"/r{n}"] = Route(
            status=307, headers={"Location": f"/r{n + 1}"}, etag=False
        )
    with pytest.raises(FeedError) as info:
        fetch_feed(client, feed_server.url("/r0"), NO_VALIDATORS, LIMITS)
    assert (
        str(info.value)
        == f"more than {MAX_REDIRECTS} redirects starting at {feed_server.url('/r0')}"
    )
    assert len(feed_server.requests) == MAX_REDIRECTS + 1


def test_redirect_without_location(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/r"] = Route(status=301, etag=False)
    with pytest.raises(FeedError, match="HTTP 301 redirect without Location"):
        fetch_feed(client, feed_server.url("/r"), NO_VALIDATORS, LIMITS)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://files.example.com/feed.xml"])
def test_redirect_to_a_non_http_url_is_refused(
    feed_server: FeedServer, client: httpx.Client, target: str
) -> None:
    feed_server.routes["/r"] = Route(status=302, headers={"Location": target}, etag=False)
    with pytest.raises(FeedError, match="URL must be http or https") as info:
        fetch_feed(client, feed_server.url("/r"), NO_VALIDATORS, LIMITS)
    assert target in str(info.value)


# -- HTTP errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(404, "Not Found"), (500, "Internal Server Error"), (403, "Forbidden"), (410, "Gone")],
)
def test_http_errors_name_the_status(
    feed_server: FeedServer, client: httpx.Client, status: int, phrase: str
) -> None:
    feed_server.routes["/feed.xml"] = Route(b"nope", "text/plain", status=status)
    url = feed_server.url("/feed.xml")
    with pytest.raises(FeedError) as info:
        fetch_feed(client, url, NO_VALIDATORS, LIMITS)
    assert str(info.value) == f"HTTP {status} {phrase} from {url}"


def test_unrouted_path_is_404(feed_server: FeedServer, client: httpx.Client) -> None:
    with pytest.raises(FeedError, match="HTTP 404"):
        fetch_feed(client, feed_server.url("/missing.xml"), NO_VALIDATORS, LIMITS)


# -- size limits --------------------------------------------------------------------------------


def test_plain_body_over_the_cap(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/big.xml"] = Route(b"x" * (2 * 1024 * 1024))
    with pytest.raises(FeedError) as info:
        fetch_feed(client, feed_server.url("/big.xml"), NO_VALIDATORS, LIMITS)
    assert "larger than the 1,048,576 byte limit" in str(info.value)


def test_body_exactly_at_the_cap_is_fine(feed_server: FeedServer, client: httpx.Client) -> None:
    body = b"y" * LIMITS.max_bytes
    feed_server.routes["/edge.xml"] = Route(body)
    assert fetch_feed(client, feed_server.url("/edge.xml"), NO_VALIDATORS, LIMITS).body == body


def test_gzip_body_is_decompressed(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/gz.xml"] = Route(gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    feed_server.routes["/deflate.xml"] = Route(
        zlib.compress(FEED), headers={"Content-Encoding": "deflate"}
    )
    assert fetch_feed(client, feed_server.url("/gz.xml"), NO_VALIDATORS, LIMITS).body == FEED
    assert fetch_feed(client, feed_server.url("/deflate.xml"), NO_VALIDATORS, LIMITS).body == FEED


def test_gzip_bomb_fails_fast_without_inflating_it_all(
    feed_server: FeedServer, client: httpx.Client
) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 100_000
    feed_server.routes["/bomb.xml"] = Route(bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(FeedError) as info:
            fetch_feed(client, feed_server.url("/bomb.xml"), NO_VALIDATORS, LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "1,048,576 byte limit (decompressed)" in str(info.value)
    assert peak < 8 * 1024 * 1024  # never near the 20 MB the bomb inflates to


def test_gzip_just_over_the_cap_is_refused(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/gz.xml"] = Route(
        gzip.compress(b"z" * (LIMITS.max_bytes + 1)), headers={"Content-Encoding": "gzip"}
    )
    with pytest.raises(FeedError, match="byte limit"):
        fetch_feed(client, feed_server.url("/gz.xml"), NO_VALIDATORS, LIMITS)


def test_corrupt_gzip(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/bad.xml"] = Route(b"not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FeedError, match="corrupt gzip body"):
        fetch_feed(client, feed_server.url("/bad.xml"), NO_VALIDATORS, LIMITS)


def test_unsupported_content_encoding(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/br.xml"] = Route(b"\x1b\x00", headers={"Content-Encoding": "br"})
    with pytest.raises(FeedError, match="unsupported Content-Encoding 'br'"):
        fetch_feed(client, feed_server.url("/br.xml"), NO_VALIDATORS, LIMITS)


# -- time limits --------------------------------------------------------------------------------


def test_slow_server_times_out_with_a_clear_error(feed_server: FeedServer) -> None:
    feed_server.routes["/slow.xml"] = Route(FEED, delay=2.0)
    limits = FetchLimits(timeout=0.3, max_bytes=1024 * 1024, allow_private=True)
    url = feed_server.url("/slow.xml")
    with make_client(limits) as http, pytest.raises(FeedError) as info:
        fetch_feed(http, url, NO_VALIDATORS, limits)
    # The server answers after 2 s: an error at all shows the 0.3 s limit cut it short.
    assert str(info.value) == f"timed out after 0.3s fetching {url}"


# -- addresses ----------------------------------------------------------------------------------


def test_loopback_is_refused_unless_allowed(feed_server: FeedServer, client: httpx.Client) -> None:
    feed_server.routes["/feed.xml"] = Route(FEED)
    strict = FetchLimits(timeout=5.0, max_bytes=1024, allow_private=False)
    with pytest.raises(FeedError) as info:
        fetch_feed(client, feed_server.url("/feed.xml"), NO_VALIDATORS, strict)
    message = str(info.value)
    assert "non-public address 127.0.0.1" in message
    assert "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES=true" in message
    assert feed_server.requests == []  # refused before connecting


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/feed",
        "http://[::1]/feed",
        "http://[::ffff:127.0.0.1]/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/feed",
        "http://192.168.0.1/feed",
        "http://0.0.0.0/feed",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(FeedError, match="NEWSLETTER_ALLOW_PRIVATE_ADDRESSES"):
        check_address(url, allow_private=False)
    check_address(url, allow_private=True)  # allowed when the operator says so


@pytest.mark.parametrize(
    "url", ["ftp://example.com/feed.xml", "file:///etc/passwd", "javascript:alert(1)", "http://"]
)
def test_non_http_urls_are_refused(client: httpx.Client, url: str) -> None:
    with pytest.raises(FeedError, match="URL must be http or https"):
        fetch_feed(client, url, NO_VALIDATORS, LIMITS)


def test_unresolvable_host() -> None:
    with pytest.raises(FeedError) as info:
        check_address("https://no-such-host.invalid/feed", allow_private=False)
    assert str(info.value).startswith(
        "cannot fetch https://no-such-host.invalid/feed: cannot resolve the host name "
        "'no-such-host.invalid' ("
    )
    assert str(info.value).endswith("); check the URL's host")


@pytest.mark.parametrize("allow_private", [False, True])
def test_an_unresolvable_host_reads_the_same_whichever_check_meets_it(allow_private: bool) -> None:
    """Without allow_private the address check resolves the host first; with it the
    connection does: one wording either way, naming the URL and the host."""
    limits = FetchLimits(timeout=5.0, allow_private=allow_private)
    url = "https://no-such-host.invalid/feed.xml"
    with make_client(limits) as client, pytest.raises(FeedError) as info:
        fetch_feed(client, url, NO_VALIDATORS, limits)
    message = str(info.value)
    assert message.startswith(
        f"cannot fetch {url}: cannot resolve the host name 'no-such-host.invalid' ("
    )
    assert "Errno" not in message


class _RawServer:
    """A TCP server on loopback that answers each connection with ``behave(socket)``: for the
    failures a real HTTP server never makes."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.behave = behave
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                self.behave(conn)

    def close(self) -> None:
        self.listener.close()


def _reset(conn: socket.socket) -> None:
    conn.recv(1024)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _hang_up(conn: socket.socket) -> None:
    conn.recv(1024)


def _not_http(conn: socket.socket) -> None:
    conn.recv(1024)
    conn.sendall(b"HELLO WORLD\r\n\r\n")
    time.sleep(0.2)


@pytest.mark.parametrize(
    ("scheme", "behave", "expected"),
    [
        ("http", _reset, "the server closed the connection (connection reset); try again later"),
        ("http", _hang_up, "the server closed the connection without answering; try again later"),
        ("http", _not_http, "the server's answer is not valid HTTP (illegal status line)"),
        (
            "https",
            _hang_up,
            "the server closed the connection during the TLS handshake; try again later, "
            "or check that the address serves https",
        ),
    ],
    ids=["reset", "hang-up", "not-http", "tls-hang-up"],
)
def test_a_server_that_breaks_off_is_named_in_words(
    client: httpx.Client, scheme: str, behave: Callable[[socket.socket], None], expected: str
) -> None:
    server = _RawServer(behave)
    try:
        url = f"{scheme}://127.0.0.1:{server.port}/feed.xml"
        with pytest.raises(FeedError) as info:
            fetch_feed(client, url, NO_VALIDATORS, LIMITS)
        assert str(info.value) == f"cannot fetch {url}: {expected}"
    finally:
        server.close()


def test_connection_refused_is_a_feed_error(client: httpx.Client) -> None:
    from tests.smtp_server import free_port

    url = f"http://127.0.0.1:{free_port()}/feed.xml"
    with pytest.raises(FeedError) as info:
        fetch_feed(client, url, NO_VALIDATORS, LIMITS)
    assert str(info.value) == (
        f"cannot fetch {url}: connection refused (nothing answers at that address and port; "
        "check the URL and whether the site is up)"
    )


def test_https_to_a_plain_http_server_says_tls_failed(module_server: FeedServer) -> None:
    """A real plain-HTTP server on loopback addressed as https: the TLS handshake fails and the
    message says so in words, not as a library class name."""
    module_server.routes["/plain.xml"] = Route(FEED)
    url = module_server.url("/plain.xml").replace("http://", "https://", 1)
    with make_client(LIMITS) as client, pytest.raises(FeedError) as info:
        fetch_feed(client, url, NO_VALIDATORS, LIMITS)
    message = str(info.value)
    assert message.startswith(f"cannot fetch {url}: TLS failed (")
    assert "plain http" in message and "ConnectError" not in message
