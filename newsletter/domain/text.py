"""Cleaning untrusted feed text: allow-listed HTML, plain text, safe canonical links."""

from __future__ import annotations

import html
import re
import unicodedata
from typing import Any
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
CONTROL_CHARACTERS = _CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\u202a-\u202e\ufeff]"
)
_WS = re.compile(r"\s+")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote|tr)>|<br\s*/?>", re.IGNORECASE)
# Block elements the allow-list drops with their structure: kept as line breaks (and h1/h2 as
# h3), so a heading and the paragraph after it do not run together as one line of text.
_BIG_HEADING = re.compile(r"<(/?)h[12](?=[\s/>])[^>]*>", re.IGNORECASE)
# The lookahead of the names' first letters changes no match: under re.I the engine tries each
# name in turn at every '<', and the one test of a letter rejects most tags (p, a, img, li,
# strong...) at once, about three times faster on a publisher's HTML.
_DROPPED_BLOCK = re.compile(
    r"</?(?=[adfhmst])(?:div|section|article|header|footer|main|aside|figure|figcaption|table|"
    r"thead|tbody|tfoot|tr|td|th|dl|dt|dd|address|details|summary)(?=[\s/>])[^>]*>",
    re.IGNORECASE,
)


def clean_html(
    fragment: str, max_chars: int = 20_000, base: str | None = None, keep_blocks: bool = False
) -> str:
    """Allow-list sanitize an HTML fragment: simple formatting and http(s)/mailto links only;
    relative links are made absolute against ``base`` (the feed's URL). With ``keep_blocks``,
    blocks the allow-list drops (div, section, table cells, h1/h2) stay apart as <br> and h3."""
    fragment = fragment[: max_chars * 2]
    if keep_blocks:
        if "<h" in fragment or "<H" in fragment or "</h" in fragment or "</H" in fragment:
            # (re.I matches no other letter with "h" and no other character with "1" or "2")
            fragment = _BIG_HEADING.sub(r"<\1h3>", fragment)
        fragment = _DROPPED_BLOCK.sub("<br>", fragment)
    options: dict[str, Any] = {
        "tags": ALLOWED_TAGS,
        "attributes": ALLOWED_ATTRIBUTES,
        "url_schemes": SAFE_SCHEMES,
        "link_rel": "noopener noreferrer nofollow",
        "strip_comments": True,
    }
    if base:
        options["url_relative"] = ("rewrite_with_base", base)
    try:
        cleaned = nh3.clean(fragment, **options)
    except ValueError:  # a base nh3 cannot use: leave relative links as they are
        options.pop("url_relative", None)
        cleaned = nh3.clean(fragment, **options)
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
    cut = value[: _cluster_start(value, limit)]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:，。；：") + "…"


def _joins_previous(ch: str) -> bool:
    """A character drawn as part of the one before it: a combining mark, a variation selector,
    a zero-width joiner or an emoji skin-tone modifier."""
    code = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or unicodedata.category(ch) in ("Mn", "Me")
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or code == 0x200D
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (subdivision flags)
    )


def _is_regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def _cluster_start(value: str, end: int) -> int:
    """``end`` moved back, if need be, to the start of the character cluster it falls in, so
    that a cut never leaves an accent without its letter, half a flag, or an emoji sequence
    cut after a joiner. A simplified reading of UAX #29 for the cases text cutting meets."""
    while 0 < end < len(value) and (_joins_previous(value[end]) or value[end - 1] == "\u200d"):
        end -= 1
    if 0 < end < len(value) and _is_regional_indicator(value[end]):
        run = 0
        while end - run > 0 and _is_regional_indicator(value[end - run - 1]):
            run += 1
        if run % 2:  # an odd run before: value[end] is the second half of a flag
            end -= 1
    return end


def display_width(value: str) -> int:
    """Columns ``value`` takes in a monospaced line, and about how much room it takes in a
    proportional font: a wide or fullwidth character (Chinese, Japanese, Korean, fullwidth
    punctuation) counts two, every other one."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)


def shorten_to_width(value: str, columns: int) -> str:
    """``shorten`` by display width rather than characters, so that a Chinese summary is cut
    to about the room an English one of ``columns`` characters takes (half as many
    characters, each carrying more)."""
    if len(value) * 2 <= columns or display_width(value) <= columns:
        return value
    width = end = 0
    while end < len(value):
        width += 2 if unicodedata.east_asian_width(value[end]) in "WF" else 1
        if width > columns:
            break
        end += 1
    cut = value[: _cluster_start(value, end)]
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:，。；：、") + "…"


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


# ---- mojibake ------------------------------------------------------------------------------
# Text decoded with the wrong character set. UTF-8 read as Latin-1/Windows-1252 turns "é" into
# "Ã©" and each Chinese character into three characters such as "åŒ»"; GBK read as Latin-1 or
# Windows-1252/1254 turns "医疗" into "Ò½ÁÆ"; bytes that fit no encoding become U+FFFD.
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
_CONTINUATION = f"[\u0080-\u00bf{_CP1252_HIGH}]"
_MOJIBAKE = re.compile(
    rf"\ufffd|Ã[\u0080-\u00bf]|â€|Â[\u00a0-\u00bf]|[\u00e4-\u00ef]{_CONTINUATION}{_CONTINUATION}"
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
_LATIN_HIGH = re.compile(r"[\u0080-\u024f]")
_GBK_RUN = re.compile(r"[\u0080-\u024f]{4,}")


def _single_byte(text: str, codec: str) -> bytes | None:
    """The bytes a single-byte decoding produced ``text`` from; None if it could not have.

    Windows code pages leave a few bytes undefined; decoders then pass them as U+0080-U+009F,
    so those map back to the same byte.
    """
    out = bytearray()
    for char in text:
        try:
            out += char.encode(codec)
        except UnicodeEncodeError:
            if ord(char) > 0xFF:
                return None
            out.append(ord(char))
    return bytes(out)


def repair_mojibake(text: str) -> str | None:
    """The text as it was before a wrong single-byte decoding (UTF-8 or GB18030 bytes read as
    Latin-1, Windows-1252 or Windows-1254), or None when no such reading explains it."""
    if "\ufffd" in text:
        return None  # the bytes are gone
    for codec in ("cp1252", "latin-1", "cp1254"):
        raw = _single_byte(text, codec)
        if raw is None or raw.isascii():
            continue
        try:
            fixed = raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            if not _MOJIBAKE.search(fixed):
                return fixed
        # GB18030 decodes almost any byte pairs: only a run of accented letters (each Chinese
        # character became two) that turns into Chinese and nothing else is taken for it.
        if _GBK_RUN.search(text):
            try:
                fixed = raw.decode("gb18030")
            except UnicodeDecodeError:
                continue
            if len(_CJK.findall(fixed)) >= 2 and not _LATIN_HIGH.search(fixed):
                return fixed
    return None


def looks_like_mojibake(text: str, language: str = "en") -> bool:
    """True when text shows the marks of a wrong decoding (see above). In a Chinese feed, text
    without a single Chinese character that reads as Chinese once re-decoded counts too."""
    if _MOJIBAKE.search(text):
        return True
    if language.lower().startswith("zh") and not _CJK.search(text) and _GBK_RUN.search(text):
        return repair_mojibake(text) is not None
    return False


def has_cjk(text: str) -> bool:
    """True when text has a Chinese (CJK) character."""
    return _CJK.search(text) is not None


_TITLE_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_TITLE_PREFIX = re.compile(r"^(【[^】]{1,8}】|[^|｜\s][^|｜]{0,5}[|｜])\s{0,3}")


def _title_chars(text: str) -> str:
    """Text reduced to what a reader compares: NFKC, case folded, no spaces or punctuation."""
    return _TITLE_NOISE.sub("", unicodedata.normalize("NFKC", text[:4000])).casefold()


def _weight(text: str) -> int:
    """Length in Latin-letter units: a Chinese character carries about two letters' meaning."""
    return sum(2 if _CJK.match(char) else 1 for char in text)


# "The title plus a few characters": a source tag, an account name, "| 36氪", "(video)", or a
# few words that merely extend it ("..., esta quarta-feira à noite").
TITLE_EXTRA = 32  # in _weight units: 32 letters or 16 Chinese characters


def summary_repeats_title(summary: str, title: str) -> bool:
    """True when a summary says nothing the title does not: equal to it once spaces, case and
    punctuation are ignored, a piece of it, the title plus a few characters (a source tag or
    an account name), or no letters at all. Such a summary is shown as nothing.

    WeChat bridges send ``content:encoded`` equal to the title; teasers cut the title short;
    aggregators add "- Reuters" or "（来源：动脉网）".
    """
    if len(summary) > 2 * len(title) + 4 * TITLE_EXTRA:
        return False  # far longer than the title and a few characters could be
    text, head = _title_chars(summary), _title_chars(title)
    if not text:
        return True
    if not head:
        return False
    if text in head:
        return True
    if head in text:
        return _weight(text.replace(head, "", 1)) <= TITLE_EXTRA
    return False


def summary_without_title(summary: str, title: str) -> str:
    """The summary as shown under the title: "" when it only repeats the title (see
    summary_repeats_title), the rest of it when it opens with the title, else unchanged."""
    if summary_repeats_title(summary, title):
        return ""
    head = _title_chars(title)
    # The title's characters are within its length again plus some punctuation of the summary.
    if not head or not _title_chars(summary[: 2 * len(title) + 40]).startswith(head):
        return summary
    consumed = 0
    for index, char in enumerate(summary):
        consumed += len(_title_chars(char))
        if consumed >= len(head):
            return _drop_leading_punctuation(summary[index + 1 :])
    return summary


def _drop_leading_punctuation(text: str) -> str:
    """Text without the separators and symbols left where a title was cut off (" - ", "★★ ",
    "："); an opening quote or bracket stays: it begins the next sentence."""
    start = 0
    while start < len(text) and (
        text[start].isspace()
        or (
            unicodedata.category(text[start])[0] in "PS"
            and unicodedata.category(text[start]) not in ("Ps", "Pi")
        )
    ):
        start += 1
    return text[start:]


def title_fingerprint(title: str) -> str:
    """A normalized title for spotting the same story twice: case, punctuation, prefixes ignored."""
    title = _TITLE_PREFIX.sub("", unicodedata.normalize("NFKC", title[:1000]).strip())
    return _TITLE_NOISE.sub("", title).casefold()
