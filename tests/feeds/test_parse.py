"""newsletter.feeds.parse and newsletter.domain.text: untrusted feed bytes to clean, keyed, dated entries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from newsletter.domain.text import (
    canonical_url,
    clean_html,
    clean_text,
    clean_title,
    html_to_text,
    safe_link,
    shorten,
    title_fingerprint,
)
from newsletter.errors import FeedError
from newsletter.feeds.parse import MAX_ENTRIES, Entry, ParsedFeed, parse_feed, prepare_body

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FEED_URL = "https://news.example.com/feed.xml"


def rss(*items: str, encoding: str | None = "utf-8", channel_title: str = "医疗 News") -> bytes:
    """An RSS 2.0 document with raw <item> bodies, encoded (and declared) as asked."""
    decl = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    body = "".join(f"<item>{item}</item>" for item in items)
    doc = f'{decl}<rss version="2.0"><channel><title>{channel_title}</title>{body}</channel></rss>'
    return doc.encode(encoding or "utf-8")


def item(
    title: str = "A story", guid: str | None = "g1", link: str | None = None, **extra: str
) -> str:
    parts = [f"<title>{title}</title>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if link is not None:
        parts.append(f"<link>{link}</link>")
    parts.extend(f"<{tag}>{value}</{tag}>" for tag, value in extra.items())
    return "".join(parts)


def parse(body: bytes, **kwargs: object) -> ParsedFeed:
    kwargs.setdefault("url", FEED_URL)
    kwargs.setdefault("now", NOW)
    return parse_feed(body, **kwargs)  # type: ignore[arg-type]


def only(body: bytes, **kwargs: object) -> Entry:
    feed = parse(body, **kwargs)
    assert len(feed.entries) == 1, feed.entries
    return feed.entries[0]


# -- basic documents ----------------------------------------------------------------------------


def test_rss_entry_is_normalized() -> None:
    when = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
    feed = parse(
        rss(
            item(
                "FDA approves &lt;b&gt;first&lt;/b&gt; oral GLP-1 pill",
                guid="stat-123",
                link="https://www.statnews.com/2026/11/18/glp1/?utm_source=rss&amp;utm_medium=feed",
                description="&lt;p&gt;The agency &lt;em&gt;approved&lt;/em&gt; it.&lt;/p&gt;",
                pubDate=format_datetime(when),
                author="reporter@statnews.com (Jane Doe)",
            )
        )
    )
    assert (feed.title, feed.version, feed.warning) == ("医疗 News", "rss20", None)
    entry = feed.entries[0]
    assert entry.key == "stat-123"
    assert entry.url == "https://www.statnews.com/2026/11/18/glp1/"
    assert entry.title == "FDA approves first oral GLP-1 pill"
    assert entry.summary_html == "<p>The agency <em>approved</em> it.</p>"
    assert entry.summary_text == "The agency approved it."
    assert entry.published == when and entry.published.tzinfo is not None
    assert entry.author and "Jane Doe" in entry.author
    assert len(entry.content_hash) == 64


def test_atom_entry_with_relative_link_and_html_title() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title><id>urn:blog</id>
<updated>2024-03-15T10:00:00Z</updated>
<entry><title type="html">&lt;b&gt;Bold&lt;/b&gt; &amp;amp; co</title><id>urn:e1</id>
<link href="/posts/1?utm_medium=rss&amp;page=2"/><updated>2024-03-15T10:00:00+08:00</updated>
<content type="html">&lt;p&gt;Body&lt;script&gt;steal()&lt;/script&gt;&lt;/p&gt;</content>
<author><name>Ann</name></author></entry></feed>"""
    feed = parse(body, url="https://blog.example/feeds/all.atom")
    assert feed.version == "atom10"
    entry = feed.entries[0]
    assert entry.key == "urn:e1"
    assert entry.url == "https://blog.example/posts/1?page=2"
    assert entry.title == "Bold & co"
    assert entry.summary_html == "<p>Body</p>" and "steal" not in entry.summary_text
    assert entry.published == datetime(2024, 3, 15, 2, 0, tzinfo=UTC)
    assert entry.author == "Ann"


def test_missing_title_falls_back_to_summary_text() -> None:
    entry = only(rss(item("", description="Medicare expands coverage " * 10)))
    assert entry.title.startswith("Medicare expands coverage")
    assert len(entry.title) <= 80


def test_titles_lose_control_and_bidi_characters() -> None:
    entry = only(rss(item("Safe\u202e title\u200b with\u0007 tricks")))
    assert entry.title == "Safe title with tricks"


def test_no_date_gives_none() -> None:
    assert only(rss(item())).published is None


def test_entries_are_capped() -> None:
    items = [item(f"Story {n}", guid=f"g{n}") for n in range(MAX_ENTRIES + 20)]
    assert len(parse(rss(*items)).entries) == MAX_ENTRIES


# -- bytes only ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["{path}", "file://{path}"])
def test_bytes_that_spell_a_local_path_are_never_opened(tmp_path: Path, spelling: str) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_bytes(rss(item("LOCAL SECRET"), channel_title="local"))
    body = spelling.format(path=secret).encode()
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse(body)


# -- stable keys --------------------------------------------------------------------------------


def test_key_is_the_guid_when_present() -> None:
    first = only(rss(item("Title one", guid="urn:abc", link="https://e.com/a")))
    again = only(rss(item("Title edited", guid="urn:abc", link="https://e.com/b")))
    assert first.key == again.key == "urn:abc"


def test_key_falls_back_to_the_canonical_link() -> None:
    a = only(rss(item(guid=None, link="https://E.com/a?utm_source=x&amp;id=1#top")))
    b = only(rss(item("Renamed", guid=None, link="https://e.com/a?id=1&amp;fbclid=abc")))
    assert a.key == b.key == "https://e.com/a?id=1"


def test_key_falls_back_to_a_hash_of_title_and_summary() -> None:
    body = rss(item("No link, no guid", guid=None, description="Same text"))
    a, b = only(body), only(body)
    assert a.key == b.key and a.key.startswith("sha256:")
    other = only(rss(item("No link, no guid", guid=None, description="Other text")))
    assert other.key != a.key


def test_very_long_guid_is_hashed() -> None:
    entry = only(rss(item(guid="x" * 1000)))
    assert entry.key.startswith("sha256:") and len(entry.key) == 7 + 64


def test_duplicate_guids_in_one_feed_give_one_entry() -> None:
    feed = parse(
        rss(
            item("First copy", guid="dup"),
            item("Second copy", guid="dup"),
            item("Other", guid="other"),
        )
    )
    assert [(e.key, e.title) for e in feed.entries] == [("dup", "First copy"), ("other", "Other")]


# -- links --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "file:///etc/passwd",
        "vbscript:msgbox(1)",
        "http://[::1",
    ],
)
def test_unsafe_entry_links_are_dropped(link: str) -> None:
    entry = only(rss(item(guid="k", link=link)))
    assert entry.url is None
    assert entry.key == "k"


def test_relative_link_resolves_against_the_feed_url() -> None:
    entry = only(rss(item(guid=None, link="/2026/story?utm_campaign=a&amp;x=1")))
    assert entry.url == "https://news.example.com/2026/story?x=1"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTPS://Example.COM:443/a/b?utm_source=x&id=3&UTM_Campaign=y&fbclid=z&gclid=1#frag",
            "https://example.com/a/b?id=3",
        ),
        ("http://example.com:80", "http://example.com/"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("https://e.com/p?spm=a1&mc_cid=1&_hsenc=2&keep=yes", "https://e.com/p?keep=yes"),
        ("https://e.com/p?q=&b=2", "https://e.com/p?q=&b=2"),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_canonical_url_resolves_relative_and_protocol_relative_links() -> None:
    assert canonical_url("/x?a=1", FEED_URL) == "https://news.example.com/x?a=1"
    assert canonical_url("//cdn.example.org/y", FEED_URL) == "https://cdn.example.org/y"


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "javascript:alert(1)",
        " javascript:alert(1)",
        "data:image/png;base64,AAAA",
        "smb://host/share",
        "mailto:someone@example.com",
        "http://",
        "https://[::1",
    ],
)
def test_safe_link_refuses_everything_but_http(url: str | None) -> None:
    assert safe_link(url, FEED_URL) is None
    assert canonical_url(url, FEED_URL) is None


# -- HTML cleaning ------------------------------------------------------------------------------


HOSTILE = (
    '<p>Hi <script>alert(1)</script><img src="javascript:alert(1)" onerror="steal()">'
    '<form action="https://evil.example/login"><input type="password" name="p"></form>'
    '<a href="javascript:void(0)">js</a> <a href="https://ok.example/" onclick="x()" '
    'style="display:none">ok</a><!--[if mso]><p>outlook only</p><![endif]-->'
    '<img src="data:image/png;base64,AAAA"><a href="file:///etc/passwd">file</a>'
    '<iframe src="https://evil.example/"></iframe><style>body{display:none}</style></p>'
)


def test_clean_html_allow_list() -> None:
    cleaned = clean_html(HOSTILE)
    lowered = cleaned.lower()
    for bad in (
        "<script",
        "alert(1)",
        "<form",
        "<input",
        "onerror",
        "onclick",
        "<img",
        "javascript:",
        "data:",
        "file:",
        "<iframe",
        "<style",
        "display:none",
        "style=",
        "[if mso]",
        "outlook only",
    ):
        assert bad not in lowered, bad
    assert '<a href="https://ok.example/" rel="noopener noreferrer nofollow">ok</a>' in cleaned


def test_hostile_html_in_a_feed_is_cleaned_in_the_entry() -> None:
    entry = only(rss(item(description=f"<![CDATA[{HOSTILE}]]>")))
    html = entry.summary_html.lower()
    assert "<script" not in html and "<form" not in html and "onerror" not in html
    assert "<img" not in html and "javascript:" not in html
    assert "https://ok.example/" in html
    assert "<" not in entry.summary_text


def test_clean_html_is_bounded() -> None:
    assert len(clean_html("<p>" + "x" * 100_000 + "</p>", max_chars=1000)) <= 1000


def test_html_to_text_and_clean_text_and_clean_title() -> None:
    assert html_to_text("<p>Hello&nbsp;<b>world</b></p><p>Second &amp; last</p>") == (
        "Hello world Second & last"
    )
    assert clean_text("a\x00b\u202ec  d\n\t") == "abc d"
    assert clean_title(" <b>FDA</b> approves &amp; clears\n drug ") == "FDA approves & clears drug"
    assert clean_title("Plain text & more") == "Plain text & more"


def test_shorten() -> None:
    assert shorten("short", 20) == "short"
    cut = shorten("word " * 100, 50)
    assert cut.endswith("…") and len(cut) <= 51 and not cut[:-1].endswith(" ")
    assert cut[:-1].split(" ")[-1] == "word"  # cut at a word boundary
    assert shorten("中文" * 100, 20) == "中文" * 10 + "…"  # CJK: cut at the limit
    assert shorten("首先，这是一个很长的句子。" * 10, 13) == "首先，这是一个很长的句子…"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("【首发】康澜生物完成2000万美元A轮融资！", "康澜生物完成2000万美元A轮融资"),
        ("36氪 | 康澜生物完成2000万美元A轮融资", "康澜生物完成2000万美元A轮融资"),
        ("FDA approves first oral GLP-1 pill", "FDA Approves First Oral GLP-1 Pill!"),
        ("Ｆｕｌｌ－width　ＡＩ", "Full-width AI"),
    ],
)
def test_title_fingerprint_ignores_case_punctuation_and_prefixes(a: str, b: str) -> None:
    assert title_fingerprint(a) == title_fingerprint(b) != ""


def test_title_fingerprint_keeps_different_stories_apart() -> None:
    assert title_fingerprint("FDA approves drug A") != title_fingerprint("FDA approves drug B")


# -- dates --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "language", "expected"),
    [
        ("2024年3月15日 10:00", "zh", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("2024年3月15日", "zh", datetime(2024, 3, 14, 16, 0, tzinfo=UTC)),
        ("发布于 2024 年 3 月 15 日 10：05：30", "zh", datetime(2024, 3, 15, 2, 5, 30, tzinfo=UTC)),
        ("Fri, 15 Mar 2024 10:00:00 CST", "zh", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("Fri, 15 Mar 2024 10:00 CST", "zh-cn", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("2024-03-15 10:00:00 CST", "zh", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("2024-03-15T10:00:00 CST", "zh", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        # In an English feed CST is US Central Standard Time (UTC-6).
        ("Fri, 15 Mar 2024 10:00:00 CST", "en", datetime(2024, 3, 15, 16, 0, tzinfo=UTC)),
        ("Fri, 15 Mar 2024 10:00:00 +0800", "en", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("2024-03-15T10:00:00+08:00", "en", datetime(2024, 3, 15, 2, 0, tzinfo=UTC)),
        ("Fri, 15 Mar 2024 10:00:00 GMT", "zh", datetime(2024, 3, 15, 10, 0, tzinfo=UTC)),
    ],
)
def test_dates(raw: str, language: str, expected: datetime) -> None:
    entry = only(rss(item(pubDate=raw)), language=language)
    assert entry.published == expected


@pytest.mark.parametrize(
    "raw",
    [
        "0000-00-00",
        "0000-00-00 00:00:00",
        "1970-01-01T00:00:00Z",
        "Fri, 15 Mar 2199 10:00:00 GMT",
        "9999-12-31T23:59:59Z",
        "2024年13月45日",
        "yesterday-ish",
        "",
    ],
)
@pytest.mark.filterwarnings("ignore:To avoid breaking existing software:DeprecationWarning")
def test_absurd_dates_are_none(raw: str) -> None:
    for language in ("en", "zh"):
        entry = only(rss(item(pubDate=raw)), language=language)
        assert entry.published is None, (raw, language)


def test_slightly_future_date_is_kept_far_future_is_not() -> None:
    soon = only(rss(item(pubDate=format_datetime(NOW + timedelta(hours=30)))))
    assert soon.published == NOW + timedelta(hours=30)
    later = only(rss(item(pubDate=format_datetime(NOW + timedelta(days=3)))))
    assert later.published is None


def test_dc_date_is_used() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        b'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>t</title>'
        b"<item><title>x</title><guid>g</guid><dc:date>2024-03-15T10:00:00Z</dc:date></item>"
        b"</channel></rss>"
    )
    assert only(body).published == datetime(2024, 3, 15, 10, 0, tzinfo=UTC)


# -- entity bombs -------------------------------------------------------------------------------


def bomb(value_len: int, refs: int, *, padding: int = 0, extra_entity: str = "") -> str:
    """An internal entity of value_len characters referenced refs times."""
    pad = "<!--" + " " * padding + "-->\n" if padding else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{pad}<!DOCTYPE rss [\n{extra_entity}'
        f'<!ENTITY big "{"A" * value_len}">\n]>\n'
        '<rss version="2.0"><channel><title>t</title><item><title>Bomb</title><guid>g</guid>'
        f"<description>{'&big;' * refs}</description></item></channel></rss>"
    )


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(bomb(1_000, 2_000), id="classic"),
        pytest.param(bomb(100_000, 200), id="value-longer-than-64KB"),
        pytest.param(bomb(1_000, 2_000, padding=70_000), id="prologue-padded-past-64KB"),
        pytest.param(bomb(1_000, 2_000, extra_entity='<!ENTITY x "]>">\n'), id="bracket-in-value"),
    ],
)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_internal_entities_are_never_expanded(doc: str, encoding: str) -> None:
    body = doc.replace('encoding="utf-8"', f'encoding="{encoding}"').encode(encoding)
    feed = parse(body)
    # The document is still read (the undefined entity is noted), but nothing was expanded.
    assert [e.title for e in feed.entries] == ["Bomb"]
    entry = feed.entries[0]
    assert "A" * 1000 not in entry.summary_text
    assert len(entry.summary_html) < 20_000


def test_prepare_body_strips_the_internal_subset() -> None:
    body, forced = prepare_body(bomb(10, 3).encode(), None)
    assert forced is None
    assert b"<!ENTITY" not in body and b"<!DOCTYPE" not in body
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n')
    assert b"<rss version=" in body


def test_prepare_body_keeps_a_doctype_without_internal_subset() -> None:
    doc = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"'
        b' "http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"></rss>'
    )
    assert prepare_body(doc, None) == (doc, None)


# -- encodings ----------------------------------------------------------------------------------

ZH_TITLE = "康澜生物完成2000万美元A轮融资，云岭资本领投"
ZH_ITEM = item(ZH_TITLE, description="医保目录调整方案发布")


def test_gb2312_declared_in_the_document() -> None:
    feed = parse(rss(ZH_ITEM, encoding="gb2312"))
    assert feed.entries[0].title == ZH_TITLE and feed.title == "医疗 News"
    assert feed.entries[0].summary_text == "医保目录调整方案发布"


def test_undeclared_gb2312_in_a_chinese_feed_is_read_as_gb18030() -> None:
    body = rss(ZH_ITEM, encoding=None).decode().encode("gb2312")
    assert only(body, language="zh").title == ZH_TITLE


def test_undeclared_utf8_without_content_type_is_utf8() -> None:
    body = rss(ZH_ITEM, encoding=None)
    assert only(body).title == ZH_TITLE


@pytest.mark.parametrize("override", ["gb2312", "gbk", "gb18030"])
def test_encoding_override_fixes_undeclared_gb2312(override: str) -> None:
    body = rss(ZH_ITEM, encoding=None).decode().encode("gb2312")
    feed = parse(body, encoding=override)
    assert feed.entries[0].title == ZH_TITLE and feed.warning is None


def test_encoding_override_beats_a_wrong_declaration_and_http_charset() -> None:
    # GBK bytes declared as UTF-8 in the document and in the HTTP header.
    body = rss(ZH_ITEM, encoding="utf-8").decode().encode("gbk")
    feed = parse(body, content_type="text/xml; charset=utf-8", encoding="gb18030")
    assert feed.entries[0].title == ZH_TITLE
    assert feed.warning is None


def test_http_charset_header_is_honoured() -> None:
    body = rss(ZH_ITEM, encoding=None).decode().encode("gb18030")
    feed = parse(body, content_type="application/rss+xml; charset=gb18030")
    assert feed.entries[0].title == ZH_TITLE


def test_utf16_with_bom() -> None:
    body = rss(ZH_ITEM, encoding="utf-16")
    assert body.startswith((b"\xff\xfe", b"\xfe\xff"))
    assert only(body).title == ZH_TITLE


def test_latin1_declared() -> None:
    body = rss(item("Café à Genève"), encoding="iso-8859-1", channel_title="Nouvelles")
    assert only(body).title == "Café à Genève"


# -- not a feed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "text/html; charset=utf-8"])
def test_html_page_is_a_feed_error_naming_the_problem(content_type: str | None) -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>Document Moved</title></head>"
        b'<body><h1>Object Moved</h1><a href="https://example.com/rss">here</a></body></html>'
    )
    with pytest.raises(FeedError) as info:
        parse(page, content_type=content_type)
    message = str(info.value)
    assert "not an RSS or Atom feed" in message and "HTML page" in message
    assert "check the feed URL" in message


@pytest.mark.parametrize("body", [b"", b"   ", b"just some text", b'{"json": true}'])
def test_non_feeds_are_feed_errors(body: bytes) -> None:
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse(body)


def test_empty_but_valid_feed_is_not_an_error() -> None:
    feed = parse(rss())
    assert (feed.version, feed.entries, feed.warning) == ("rss20", [], None)


def test_malformed_feed_without_entries_is_an_error() -> None:
    with pytest.raises(FeedError, match="malformed feed with no readable entries"):
        parse(
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</ti',
            content_type="application/xml",
        )


def test_malformed_but_recoverable_feed_keeps_its_entries_with_a_warning() -> None:
    body = b"<rss version='2.0'><channel><item><title>Unclosed story</title>"
    feed = parse(body, content_type="application/xml")
    assert [e.title for e in feed.entries] == ["Unclosed story"]
    assert feed.warning is not None and feed.warning.startswith("recovered from:")


def test_whitespace_before_the_xml_declaration_is_tolerated() -> None:
    feed = parse(b"\r\n\n   " + rss(item("Leading blank lines")))
    assert [e.title for e in feed.entries] == ["Leading blank lines"]
    assert feed.warning is None  # read by the strict parser, not recovered by the loose one


# -- text structure -----------------------------------------------------------------------------


def test_full_text_keeps_its_blocks_and_drops_source_tags() -> None:
    content = (
        "<div><h2>Key findings</h2></div><div>（来源：新华社）The study enrolled 1,200 patients.</div>"
        "<ul><li>First finding here.</li><li>Second finding here.</li></ul>"
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
        f"<item><title>A study</title><guid>g</guid><content:encoded><![CDATA[{content}]]>"
        "</content:encoded></item></channel></rss>"
    ).encode()
    entry = only(body)
    # the heading is not glued to the text ("Key findingsThe study") and the tag is gone
    assert entry.summary_text == (
        "The study enrolled 1,200 patients. First finding here. Second finding here."
    )
    # the stored HTML keeps the structure key points cite paragraphs from
    assert "<h3>Key findings</h3>" in entry.summary_html
    assert entry.summary_html.count("<li>") == 2
    assert "<div" not in entry.summary_html


def test_title_only_item_has_no_summary() -> None:
    title = "姜超对话姜诚：如何挖掘未来10年的投资机会（续）"
    body = rss(item(title, description="", **{"content:encoded": f"<![CDATA[{title}]]>"}))
    body = body.replace(
        b'<rss version="2.0">',
        b'<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
    )
    entry = only(body, language="zh")
    assert entry.title == title
    assert entry.summary_text == "" and entry.summary_html == ""
