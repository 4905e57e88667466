"""Cleaning untrusted feed text: allow-listed HTML, plain text, safe canonical links."""

from __future__ import annotations

import html
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import nh3

ALLOWED_TAGS = {
    "a", "b", "strong", "i", "em", "u", "p", "br", "ul", "ol", "li", "blockquote",
    "code", "pre", "sub", "sup", "h3", "h4", "h5", "h6",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
SAFE_SCHEMES = {"http", "https", "mailto"}
TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|yclid|igshid|spm|scm|"
    r"_hsenc|_hsmi|mkt_tok|ref_src|ref_url|from|share_token|wt\.mc_id|cmpid)$",
    re.IGNORECASE,
)
_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e\ufeff]"
)
_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|tr)>|<br\s*/?>", re.IGNORECASE)


def clean_html(fragment: str, max_chars: int = 20_000) -> str:
    """Allow-list sanitize an HTML fragment: simple formatting and http(s)/mailto links only."""
    cleaned = nh3.clean(
        fragment[: max_chars * 2],
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return cleaned[:max_chars] if len(cleaned) > max_chars else cleaned


def html_to_text(fragment: str) -> str:
    """Plain text from an HTML fragment: tags dropped, entities decoded, whitespace collapsed."""
    with_breaks = _BLOCK_END.sub(" \n", fragment)
    stripped = nh3.clean(with_breaks, tags=set(), attributes={}, strip_comments=True)
    return clean_text(html.unescape(stripped))


def clean_text(value: str) -> str:
    """One line of safe text: NFC, control/bidi characters removed, whitespace collapsed."""
    value = unicodedata.normalize("NFC", value)
    value = _CONTROL.sub("", value)
    return _WS.sub(" ", value).strip()


def clean_title(value: str) -> str:
    """A title as text: any markup stripped and entities decoded (feeds mix both)."""
    if "<" in value or "&" in value:
        value = html.unescape(_TAG.sub(" ", value))
    return clean_text(value)


def shorten(value: str, limit: int) -> str:
    """Cut text at a word boundary (or at the limit for CJK) and add an ellipsis."""
    if len(value) <= limit:
        return value
    cut = value[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:，。；：") + "…"


def safe_link(url: str | None, base: str | None = None) -> str | None:
    """An http(s) URL from a feed, or None for anything else (javascript:, data:, file:, ...)."""
    if not url:
        return None
    url = clean_text(url)
    try:  # urlsplit raises ValueError on hostile input such as "http://[::1"
        if base and not urlsplit(url).scheme:
            url = urljoin(base, url)
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """A safe link without tracking parameters or fragment, scheme and host lowercased."""
    link = safe_link(url, base)
    if link is None:
        return None
    parts = urlsplit(link)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAMS.match(k)
    ]
    netloc = parts.netloc.lower()
    if netloc.endswith(":80") and parts.scheme.lower() == "http":
        netloc = netloc[:-3]
    if netloc.endswith(":443") and parts.scheme.lower() == "https":
        netloc = netloc[:-4]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


_TITLE_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_TITLE_PREFIX = re.compile(r"^(【[^】]{1,8}】|[^|｜\s][^|｜]{0,5}[|｜])\s{0,3}")


def title_fingerprint(title: str) -> str:
    """A normalized title for spotting the same story twice: case, punctuation, prefixes ignored."""
    title = _TITLE_PREFIX.sub("", unicodedata.normalize("NFKC", title[:1000]).strip())
    return _TITLE_NOISE.sub("", title).casefold()
