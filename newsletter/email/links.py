"""The links of a rendered issue: which ones can be counted, and rewriting them to the redirect.

Pure functions over the issue's HTML (premailer output). Only the ``href`` of ``<a>`` and
``<area>`` start tags is read or changed, never text, so a story that *mentions* a URL is left
alone. Links that hold a personal marker (``%%UNSUBSCRIBE_URL%%`` and the like) are not counted:
they differ per subscriber and are filled in at send time.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

MAX_URL_CHARS = 2000  # Link.url holds at most this many characters
_MARKER = re.compile(r"%%[A-Z_]+%%")
# A URL we store and redirect to: no whitespace, controls, quotes or angle brackets, which a
# cleaned feed link never has (text.safe_link) and which could only confuse a header or a reader.
_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\`\u2028\u2029]")
# One attribute of a start tag, as html.parser reads it: a name, then maybe = and a value.
_TAG_NAME = re.compile(r"<[a-zA-Z][^\t\n\r\f />\x00]*")
_ATTR = re.compile(
    r"""[\s/]*(?P<name>[^\s/>][^\s/=>]*)(\s*=+\s*(?P<value>'[^']*'|"[^"]*"|(?!['"])[^>\s]*))?"""
)
_LINK_TAGS = ("a", "area")


@dataclass(frozen=True)
class _Tag:
    """One link start tag as written in the HTML: where it starts and its raw text."""

    start: int
    raw: str
    href: str  # as the parser read it (entities decoded)


class _TagScanner(HTMLParser):
    """Collects the raw text and offset of every <a> and <area> start tag."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        # getpos() gives (line, column); turn it into an offset with the line starts.
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self.tags: list[_Tag] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _LINK_TAGS:
            return
        raw = self.get_starttag_text()
        href = next((value for name, value in attrs if name == "href"), None)
        if raw is None or href is None:
            return
        line, column = self.getpos()
        self.tags.append(_Tag(self._line_starts[line - 1] + column, raw, href))


def _link_tags(source: str) -> list[_Tag]:
    scanner = _TagScanner(source)
    scanner.feed(source)
    scanner.close()
    return scanner.tags


def _href_span(tag: _Tag) -> tuple[int, int] | None:
    """Where the value of the tag's first href attribute is written in its raw text, read
    attribute by attribute (a quoted value that contains ' href=' is not mistaken for one);
    None when that does not agree with what the parser read."""
    name = _TAG_NAME.match(tag.raw)
    if name is None:
        return None
    position = name.end()
    while True:
        match = _ATTR.match(tag.raw, position)
        if match is None or match.end() == position:
            return None
        position = match.end()
        if match.group("name").lower() != "href":
            continue
        value = match.group("value")
        if value is None:
            return None
        start, end = match.span("value")
        inner = value[1:-1] if value[:1] in ("'", '"') else value
        return (start, end) if html.unescape(inner) == tag.href else None


def is_countable(url: str) -> bool:
    """Whether a link may go through the click redirect: an absolute http(s) URL with a host,
    no personal marker, nothing a header or an attribute could trip on, and short enough."""
    if not url or len(url) > MAX_URL_CHARS or _UNSAFE_URL.search(url) or _MARKER.search(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # for example an unbalanced IPv6 bracket
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def collect_links(source: str) -> list[str]:
    """The absolute http(s) link targets of the HTML, unescaped, deduplicated in order; links
    holding a personal marker (``%%...%%``) and anything else are left out."""
    found: dict[str, None] = {}
    for tag in _link_tags(source):
        url = tag.href.strip()
        if is_countable(url):
            found.setdefault(url, None)
    return list(found)


def redirect_url(base_url: str, token: str, subscriber_marker: str | None = None) -> str:
    """The click-redirect URL of a link token, with the subscriber marker when given."""
    url = f"{base_url.rstrip('/')}/c/{token}"
    return f"{url}?u={subscriber_marker}" if subscriber_marker else url


def rewrite_links(
    source: str, tokens: dict[str, str], base_url: str, subscriber_marker: str | None
) -> str:
    """The HTML with every link whose (unescaped) target is in ``tokens`` pointing at
    ``{base_url}/c/{token}`` (plus ``?u={subscriber_marker}`` when given); other links, and
    everything outside link start tags, are kept byte for byte."""
    if not tokens:
        return source
    pieces: list[str] = []
    position = 0
    for tag in _link_tags(source):
        token = tokens.get(tag.href.strip())
        span = _href_span(tag) if token is not None else None
        if token is None or span is None:
            continue
        target = html.escape(redirect_url(base_url, token, subscriber_marker), quote=True)
        new_tag = f'{tag.raw[: span[0]]}"{target}"{tag.raw[span[1] :]}'
        pieces.append(source[position : tag.start])
        pieces.append(new_tag)
        position = tag.start + len(tag.raw)
    pieces.append(source[position:])
    return "".join(pieces)


__all__ = ["collect_links", "is_countable", "redirect_url", "rewrite_links"]
