"""The fast RSS 2.0 reader (feeds/rss_fast.py) gives feedparser's entries, or steps aside.

parse_feed uses it when it accepts a document; every real feed it accepts must parse to the
same ParsedFeed as through feedparser alone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import newsletter.feeds.parse as parse_module
from newsletter.errors import FeedError
from newsletter.feeds.parse import ParsedFeed, parse_feed
from newsletter.feeds.rss_fast import read_rss

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
NOW = datetime(2100, 1, 1, tzinfo=UTC)  # the corpus spans 2005-2025: no date is "in the future"
URL = "https://example.com/feed.xml"


def _both(
    monkeypatch: pytest.MonkeyPatch, body: bytes, language: str, content_type: str | None = None
) -> tuple[ParsedFeed | str, ParsedFeed | str]:
    """parse_feed with the fast reader, then with feedparser alone (errors as their text)."""
    results: list[ParsedFeed | str] = []
    for reader in (read_rss, lambda body, content_type: None):
        monkeypatch.setattr(parse_module, "read_rss", reader)
        try:
            results.append(
                parse_feed(body, url=URL, content_type=content_type, language=language, now=NOW)
            )
        except FeedError as exc:
            results.append(str(exc))
    return results[0], results[1]


def _accepted(body: bytes, content_type: str | None = None) -> bool:
    return read_rss(body, content_type) is not None


@pytest.mark.corpus
@pytest.mark.parametrize(
    "content_type",
    [None, "application/rss+xml", "text/xml; charset=utf-8", "text/xml", "text/html"],
)
def test_every_real_feed_it_accepts_parses_as_through_feedparser(
    monkeypatch: pytest.MonkeyPatch, content_type: str | None
) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the real feeds are not here ({CORPUS}); check out ../shared beside the repo")
    files = [(f, "en") for f in sorted((CORPUS / "feeds").iterdir())]
    files += [(f, "zh") for f in sorted((CORPUS / "wechat" / "feeds").glob("*.xml"))]
    accepted = 0
    for path, language in files:
        body = path.read_bytes()
        fast, slow = _both(monkeypatch, body, language, content_type)
        assert fast == slow, path.name
        prepared = parse_module.prepare_body(body, None)[0]
        accepted += _accepted(prepared, content_type)
    # The WeChat bridges and plain WordPress-style feeds are plain RSS 2.0; Atom, RSS 1.0,
    # other encodings and podcast feeds go to feedparser, and so does a document served as
    # text/xml without a charset (US-ASCII by RFC 3023) or as HTML.
    if content_type in ("text/xml", "text/html"):
        assert accepted == 0
    else:
        assert accepted >= 250, accepted


ITEM = (
    "<item><title>Acme &amp; Co raises $5M</title><link>https://example.com/a</link>"
    "<guid isPermaLink='false'>a-1</guid><pubDate>Tue, 01 Dec 2026 10:00:00 +0000</pubDate>"
    "<description><![CDATA[<p>Acme <b>raised</b> $5M.</p>]]></description>"
    "<dc:creator>Jane Roe</dc:creator><category>Deals</category></item>"
)


def _rss(items: str, declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (
        f"{declaration}<rss version='2.0' xmlns:dc='http://purl.org/dc/elements/1.1/' "
        "xmlns:content='http://purl.org/rss/1.0/modules/content/'><channel><title>T</title>"
        f"<ttl>60</ttl>{items}</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    "items",
    [
        ITEM,
        # guid as the link when there is no <link> (isPermaLink defaults to true); only the
        # exact value "true" makes it one
        "<item><title>One</title><guid>https://example.com/1</guid></item>",
        "<item><title>One</title><guid isPermaLink='True'>https://example.com/1</guid></item>",
        "<item><title>One</title><link>https://e.example/?a=1&amp;b=2</link></item>",
        # content:encoded without a description; a date feedparser reads and ours may not
        "<item><title>Two</title><content:encoded>&lt;p&gt;Body&lt;/p&gt;</content:encoded>"
        "<pubDate>2026-12-01T10:00:00Z</pubDate><author>a@example.com (A)</author></item>",
        # a title-only item with an empty description
        "<item><title>三 康泰医疗完成3000万美元B轮融资</title><description/></item>",
    ],
)
def test_plain_rss_is_read_fast_and_as_feedparser_reads_it(
    monkeypatch: pytest.MonkeyPatch, items: str
) -> None:
    body = _rss(items)
    assert _accepted(body)
    fast, slow = _both(monkeypatch, body, "en", "application/rss+xml")
    assert isinstance(fast, ParsedFeed) and fast == slow
    assert fast.ttl == "60" and fast.version == "rss20"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        # another encoding, declared or by the server; no declaration at all
        (_rss(ITEM, '<?xml version="1.0" encoding="iso-8859-1"?>'), None),
        (_rss(ITEM), "application/rss+xml; charset=windows-1252"),
        (_rss(ITEM, ""), "text/xml"),
        # Atom, RSS 1.0 and 0.91 are feedparser's
        (
            b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"/>',
            None,
        ),
        (_rss(ITEM).replace(b"version='2.0'", b"version='0.91'"), None),
        # an element the reader does not know, markup in a title, xml:base, two authors
        (
            _rss(ITEM.replace("</item>", "<itunes:summary>x</itunes:summary></item>")).replace(
                b"<rss ", b"<rss xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd' ", 1
            ),
            None,
        ),
        (_rss("<item><title>A <b xmlns='http://www.w3.org/1999/xhtml'>b</b></title></item>"), None),
        (_rss(ITEM.replace("<item>", "<item xml:base='https://other.example/'>")), None),
        (_rss(ITEM.replace("</item>", "<author>x@example.com</author></item>")), None),
        # what feedparser reads differently: a relative permalink (made absolute), entities left
        # in a link, a link's href, an item's rdf:about, base64 text, an item inside another
        # element of the channel
        (_rss("<item><title>a</title><guid>post-123</guid></item>"), None),
        (
            _rss("<item><title>a</title><link>https://x.example/?a=1&amp;amp;b=2</link></item>"),
            None,
        ),
        (_rss("<item><title>a</title><link href='https://a.example/'>b</link></item>"), None),
        (
            _rss(
                ITEM.replace(
                    "<item>",
                    "<item xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' rdf:about='x'>",
                )
            ),
            None,
        ),
        (
            _rss(
                "<item><title>a</title><description mode='base64'>PHA+aGk8L3A+</description></item>"
            ),
            None,
        ),
        (_rss(f"<image><url>https://x.example/i.png</url>{ITEM}</image>"), None),
        # served as text/xml without a charset (US-ASCII to feedparser), or as HTML
        (_rss(ITEM), "text/xml"),
        (_rss(ITEM), "text/html; charset=utf-8"),
        # a DTD, a broken document
        (
            _rss(ITEM).replace(b"<rss", b"<!DOCTYPE rss [<!ENTITY e 'x'>]><rss", 1),
            None,
        ),
        (_rss(ITEM)[:-20], None),
    ],
)
def test_anything_else_goes_to_feedparser(
    monkeypatch: pytest.MonkeyPatch, body: bytes, content_type: str | None
) -> None:
    assert not _accepted(body, content_type)
    fast, slow = _both(monkeypatch, body, "en", content_type)
    assert fast == slow
