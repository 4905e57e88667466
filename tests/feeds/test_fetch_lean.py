"""The lean request path of newsletter.feeds.fetch: the same request bytes, URLs and logs as
httpx's path, on a real loopback socket."""

from __future__ import annotations

import contextlib
import gzip
import logging
import resource
import socket
import threading
import zlib
from collections.abc import Callable, Iterator

import httpx
import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.feeds.fetch import (
    FetchLimits,
    Validators,
    _httpx_open,
    _lean_open,
    fetch_feed,
    make_client,
    plain_url,
)

LIMITS = FetchLimits(timeout=5.0, max_bytes=1024 * 1024, allow_private=True)


class Scripted:
    """A loopback server answering each request with ``answer(path)``, keeping connections."""

    def __init__(self, answer: Callable[[str], bytes]) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.heads: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                self.heads.append(head)
                with contextlib.suppress(OSError):
                    conn.sendall(self.answer(head.split(b" ")[1].decode()))

    def close(self) -> None:
        self.sock.close()


NOT_MODIFIED = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 0\r\n\r\n'


@pytest.fixture
def recorder() -> Iterator[Scripted]:
    """A server that keeps each request's raw head and answers 304."""
    server = Scripted(lambda _path: NOT_MODIFIED)
    yield server
    server.close()


def test_both_paths_send_the_same_bytes(recorder: Scripted) -> None:
    headers = {"If-None-Match": '"v1"', "If-Modified-Since": "Wed, 18 Nov 2026 09:00:00 GMT"}
    url = recorder.base + "/feeds/a.xml?x=1&y=2"
    with make_client(LIMITS) as client:
        lean = _lean_open(client, url, headers, True)
        assert lean is not None  # a plain URL, no cookies: the lean path takes it
        lean.read()
        lean.close()
        slow = _httpx_open(client, url, headers, True)
        slow.read()
        slow.close()
    first, second = recorder.heads
    assert first == second
    assert first.startswith(b"GET /feeds/a.xml?x=1&y=2 HTTP/1.1\r\nHost: 127.0.0.1:")


def test_a_client_with_cookies_takes_the_httpx_path(recorder: Scripted) -> None:
    with make_client(LIMITS) as client:
        client.cookies.set("session", "1", domain="127.0.0.1")
        assert _lean_open(client, recorder.base + "/a.xml", {}, True) is None
        assert fetch_feed(client, recorder.base + "/a.xml", Validators('"v1"'), LIMITS).not_modified
    (head,) = recorder.heads
    assert b"\r\nCookie: session=1" in head


def test_another_client_takes_the_httpx_path(recorder: Scripted) -> None:
    with httpx.Client() as client:
        assert _lean_open(client, recorder.base + "/a.xml", {}, True) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://example.com/",
        "HTTP://example.com/feed",
        "http://Example.COM/Feed.XML",
        "https://example.com:443/feed",
        "http://example.com:80/feed",
        "http://example.com:8080/feed?a=b&c=d",
        "https://example.com:8443",
        "http://127.0.0.1:5000/feeds/00001.xml",
        "http://example.com/a/b/../c",
        "http://example.com/./a",
        "http://example.com/.well-known/feed",
        "http://example.com/a%20b",
        "http://example.com/a b",
        "http://example.com/caf\u00e9",
        "http://b\u00fccher.example/feed",
        "http://user:pass@example.com/feed",
        "http://example.com/feed#top",
        "http://example.com/feed?q=a|b",
        "http://example.com/feed?",
        "http://example.com/feed?a=1?b=2/c",
        "http://example.com:0/feed",
        "http://example.com:65536/feed",
        "http://example.com:08080/feed",
        "http://999.1.1.1/feed",
        "http://01.2.3.4/feed",
        "http://[::1]:8080/feed",
        "http://example.com/~user/feed;rss,2.0:x@y!$&'()*+=",
        "http://xn--bcher-kva.example/feed",
        "http://-example-.com/feed",
    ],
)
def test_plain_urls_are_what_httpx_sends(url: str) -> None:
    """Each URL plain_url accepts gives the parts httpx would send; the rest go to httpx."""
    parts = plain_url(url)
    if parts is None:
        return
    expected = httpx.URL(url)
    assert parts.scheme == expected.raw_scheme
    assert parts.host == expected.raw_host
    assert parts.port == expected.port
    assert parts.target == expected.raw_path
    assert parts.netloc == expected.netloc


def test_urls_httpx_would_change_are_left_to_it() -> None:
    for url in (
        "http://example.com/a/../b",
        "http://example.com/a%7Eb",
        "http://example.com/a b",
        "http://user@example.com/",
        "http://example.com/#frag",
        "http://bücher.example/",
        "http://999.1.1.1/",
        "http://example.com:65536/",
        "ftp://example.com/feed",
    ):
        assert plain_url(url) is None, url
    assert plain_url("http://127.0.0.1:5000/feeds/00001.xml") is not None


def test_the_lean_path_logs_each_request_as_httpx_does(caplog: pytest.LogCaptureFixture) -> None:
    with (
        FeedServer({"/feed.xml": Route(b"<rss/>")}) as server,
        make_client(LIMITS) as client,
        caplog.at_level(logging.INFO, logger="httpx"),
    ):
        fetch_feed(client, server.url("/feed.xml"), Validators(), LIMITS)
    (record,) = [r for r in caplog.records if r.name == "httpx"]
    assert record.getMessage() == f'HTTP Request: GET {server.url("/feed.xml")} "HTTP/1.1 200 OK"'


def _client(cookie: bool) -> httpx.Client:
    client = make_client(LIMITS)
    if cookie:  # a cookie (of another site) sends every request through httpx
        client.cookies.set("a", "b", domain="other.example")
    return client


@pytest.mark.parametrize("cookie", [False, True], ids=["lean", "httpx"])
def test_an_etag_that_is_not_ascii_is_neither_kept_nor_sent(cookie: bool) -> None:
    """`ETag: "caf\\xe9"` from a hostile server used to be stored, then fail every later poll of
    the feed with a UnicodeEncodeError (not a feed error: the whole ingest stopped)."""
    answer = (
        b'HTTP/1.1 200 OK\r\nETag: "caf\xe9"\r\nLast-Modified: \xff\r\n'
        b"Content-Length: 6\r\n\r\n<rss/>"
    )
    with contextlib.closing(Scripted(lambda _path: answer)) as server, _client(cookie) as client:
        first = fetch_feed(client, server.base + "/f.xml", Validators(), LIMITS)
        assert first.validators == Validators(None, None)
        again = fetch_feed(client, server.base + "/f.xml", Validators('"caf\xe9"', "\xff"), LIMITS)
        assert again.status == 200
    assert all(b"If-None-Match" not in h and b"If-Modified-Since" not in h for h in server.heads)


@pytest.mark.parametrize("cookie", [False, True], ids=["lean", "httpx"])
def test_a_redirect_body_is_drained_raw_never_decoded(cookie: bool) -> None:
    """A redirect whose small body is gzip in gzip (822 bytes of 400 MB of zeros) is followed
    without inflating it (it used to cost about 400 MB of memory on the httpx path); a corrupt
    one is followed too, on both paths alike."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip, fed 1 MB at a time
    zeros = b"\0" * (1024 * 1024)
    layer = b"".join(inner.compress(zeros) for _ in range(400)) + inner.flush()
    bomb = gzip.compress(layer, 9)
    assert len(bomb) < 64 * 1024

    def answer(path: str) -> bytes:
        if path in ("/bomb", "/corrupt"):
            body = bomb if path == "/bomb" else b"not gzip!!"
            return (
                b"HTTP/1.1 302 Found\r\nLocation: /feed%2Exml\r\nContent-Encoding: gzip, gzip"
                b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )
        return b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<rss/>"

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with contextlib.closing(Scripted(answer)) as server, _client(cookie) as client:
        for path in ("/bomb", "/corrupt"):
            fetched = fetch_feed(client, server.base + path, Validators(), LIMITS)
            assert (fetched.status, fetched.body) == (200, b"<rss/>")
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 100 * 1024
