"""Collecting and rewriting the links of a rendered issue (pure), hostile hrefs included."""

from __future__ import annotations

from html.parser import HTMLParser

from newsletter.email.links import collect_links, is_countable, redirect_url, rewrite_links
from newsletter.email.render import inline_css

BASE = "https://news.example.com"


class _Hrefs(HTMLParser):
    """Every href as a browser would read it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


def hrefs(html: str) -> list[str]:
    parser = _Hrefs()
    parser.feed(html)
    parser.close()
    return parser.hrefs


PAGE = """<html><head><link href="https://cdn.example.com/x.css" rel="stylesheet"></head><body>
<a href="https://example.com/a?x=1&amp;y=2">A</a>
<a class="big" href='http://example.com/b'>B</a>
<a href="https://example.com/a?x=1&amp;y=2">A again</a>
<A HREF=https://example.com/c>C</A>
<a href="%%UNSUBSCRIBE_URL%%">unsubscribe</a>
<a href="https://news.example.com/preferences/%%SUBSCRIBER_TOKEN%%">prefs</a>
<a href="javascript:alert(1)">js</a> <a href="JaVaScRiPt:alert(1)">js2</a>
<a href="data:text/html;base64,PHNjcmlwdD4=">data</a> <a href="mailto:x@example.com">mail</a>
<a href="/relative">rel</a> <a href="#top">anchor</a> <a>no href</a>
<a href="https://example.com/q?a=&quot;onmouseover=alert(1)">quoted</a>
<a title=' href="https://evil.example/"' href="https://example.com/d">D</a>
<p>Text that mentions href="https://text.example/" is not a link.</p>
<area href="https://example.com/map" alt="map">
<a href="  https://example.com/spaced  ">spaced</a>
</body></html>"""


def test_collect_links_keeps_absolute_http_links_in_order() -> None:
    assert collect_links(PAGE) == [
        "https://example.com/a?x=1&y=2",
        "http://example.com/b",
        "https://example.com/c",
        "https://example.com/d",
        "https://example.com/map",
        "https://example.com/spaced",
    ]


def test_is_countable_refuses_hostile_and_odd_urls() -> None:
    for url in (
        "javascript:alert(1)",
        "data:text/html,x",
        "vbscript:x",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "//example.com/x",
        "https://",
        'https://example.com/"onclick="x',
        "https://example.com/<script>",
        "https://example.com/a b",
        "https://example.com/\r\nSet-Cookie: x",
        "https://[::1",
        "https://example.com/" + "x" * 2000,
        "https://news.example.com/unsubscribe/%%SUBSCRIBER_TOKEN%%",
    ):
        assert not is_countable(url), url
    assert is_countable("HTTPS://Example.com/Path?q=1&r=%22")


def test_rewrite_replaces_only_known_links_and_escapes() -> None:
    tokens = {
        "https://example.com/a?x=1&y=2": "tokA",
        "https://example.com/d": "tokD",
        "https://example.com/map": "tokM",
        "https://example.com/spaced": "tokS",
        "javascript:alert(1)": "tokJ",  # never collected; replacing it would only defuse it
    }
    out = rewrite_links(PAGE, tokens, BASE + "/", "%%SUBSCRIBER_TOKEN%%")
    targets = hrefs(out)
    assert targets.count(f"{BASE}/c/tokA?u=%%SUBSCRIBER_TOKEN%%") == 2
    assert f"{BASE}/c/tokD?u=%%SUBSCRIBER_TOKEN%%" in targets
    assert f"{BASE}/c/tokM?u=%%SUBSCRIBER_TOKEN%%" in targets
    assert f"{BASE}/c/tokS?u=%%SUBSCRIBER_TOKEN%%" in targets
    assert "http://example.com/b" in targets and "https://example.com/c" in targets
    assert "%%UNSUBSCRIBE_URL%%" in targets and "https://cdn.example.com/x.css" in targets
    # The decoy attribute and the text stay as they were, byte for byte.
    assert "title=' href=\"https://evil.example/\"'" in out
    assert 'mentions href="https://text.example/" is not' in out
    # Outside the rewritten attribute values nothing changes.
    expected = PAGE
    for written, token in (
        ('"https://example.com/a?x=1&amp;y=2"', "tokA"),
        ('"https://example.com/d"', "tokD"),
        ('"https://example.com/map"', "tokM"),
        ('"  https://example.com/spaced  "', "tokS"),
        ('"javascript:alert(1)"', "tokJ"),
    ):
        expected = expected.replace(written, f'"{BASE}/c/{token}?u=%%SUBSCRIBER_TOKEN%%"')
    assert out == expected


def test_rewrite_without_subscriber_marker_and_without_tokens() -> None:
    html = '<a href="https://example.com/x?a=1&amp;b=2">x</a>'
    assert rewrite_links(html, {}, BASE, None) == html
    out = rewrite_links(html, {"https://example.com/x?a=1&b=2": "T_-9"}, BASE, None)
    assert out == f'<a href="{BASE}/c/T_-9">x</a>'
    assert redirect_url(BASE + "/", "T", "%%M%%") == f"{BASE}/c/T?u=%%M%%"


def test_rewrite_on_premailer_output_round_trips() -> None:
    """The HTML the lead's sender rewrites is premailer output: &amp; in hrefs, inlined styles."""
    source = (
        "<html><head><style>a { color: red; }</style></head><body>"
        '<a href="https://example.com/s?q=a&b=%E4%B8%AD">中文 story</a>'
        '<a href="https://example.com/t">t</a></body></html>'
    )
    inlined = inline_css(source)
    links = collect_links(inlined)
    assert links == ["https://example.com/s?q=a&b=%E4%B8%AD", "https://example.com/t"]
    out = rewrite_links(inlined, {links[0]: "one", links[1]: "two"}, BASE, "%%SUBSCRIBER_TOKEN%%")
    assert hrefs(out) == [
        f"{BASE}/c/one?u=%%SUBSCRIBER_TOKEN%%",
        f"{BASE}/c/two?u=%%SUBSCRIBER_TOKEN%%",
    ]
    assert 'style="color:red"' in out and "中文 story" in out


def test_malformed_html_does_not_break_anything() -> None:
    broken = '<a href="https://example.com/x">x<a href=https://example.com/y <b>bold</b>< a href="z'
    links = collect_links(broken)
    assert "https://example.com/x" in links
    out = rewrite_links(broken, dict.fromkeys(links, "T"), BASE, None)
    assert out.count(f"{BASE}/c/T") == len([h for h in hrefs(broken) if h.strip() in links])
    assert collect_links("") == [] and rewrite_links("", {"a": "b"}, BASE, None) == ""
