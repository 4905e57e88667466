"""Feed bytes to normalized entries: feedparser on bytes only, UTC dates, stable keys, clean text."""

from __future__ import annotations

import calendar
import codecs
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import feedparser

try:  # feedparser's own date reader, for entries of the fast RSS reader (a private name)
    from feedparser.datetimes import _parse_date
except ImportError:  # pragma: no cover - a feedparser without it: our reader alone
    _parse_date = None

from newsletter.domain.paragraphs import blocks_text, html_blocks
from newsletter.domain.text import (
    canonical_url,
    clean_html,
    clean_text,
    clean_title,
    has_cjk,
    looks_like_mojibake,
    repair_mojibake,
    summary_without_title,
)
from newsletter.errors import FeedError
from newsletter.feeds.dates import read_date
from newsletter.feeds.rss_fast import read_rss

MAX_ENTRIES = 200  # default of NEWSLETTER_MAX_ITEMS_PER_FEED
MAX_TITLE_CHARS = 1000  # the item.title column
MAX_URL_CHARS = 2000  # the item.url column; a longer link is dropped, not cut
MAX_AUTHOR_CHARS = 300
MAX_FEED_TITLE_CHARS = 500
MAX_SUMMARY_TEXT_CHARS = 20_000  # as the sanitized HTML it comes from
SUMMARY_CLEANED_BLOCKS = 3
MAX_RAW_TITLE_CHARS = 20_000  # work done on a title before cleaning is bounded too
# feedparser splits the prologue at the first "<\w" and re-declares "safe" ENTITYs found there.
_FIRST_ELEMENT = re.compile(rb"<\w")
_CHARREF = re.compile(rb"&#([xX][0-9a-fA-F]{1,12}|[0-9]{1,12});")
_DTD_START = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?)\sencoding=[\"'][^\"']*[\"']", re.IGNORECASE)
# Entry elements (RSS <item>, Atom <entry>, any namespace prefix), opening and closing.
_ENTRY_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s/>]")
_ENTRY_END = re.compile(
    rb"</(?:[A-Za-z_][\w.-]*:)?(?:item|entry)\s*>|<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)(?:\s[^<>]*)?/>"
)
_ROOT_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)\s*>\s*$")
CHINA = timezone(timedelta(hours=8))
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)  # no feed is older than the web's syndication formats
MAX_AHEAD = timedelta(days=2)  # clocks and zones differ; later than this is a wrong date


@dataclass(frozen=True)
class Entry:
    """One normalized feed entry; ``published`` is None when the feed gave no usable date
    (``date_unknown``; ``date_note`` says why), and the item is then dated first-seen."""

    key: str
    url: str | None
    title: str
    summary_html: str
    summary_text: str
    author: str | None
    published: datetime | None
    content_hash: str
    date_note: str | None = None  # "no date in the feed", "unreadable date '…'", "implausible …"

    @property
    def date_unknown(self) -> bool:
        """True when the feed's date could not be used: the item is dated when first seen, must
        never lead an issue, and is flagged to the editor."""
        return self.published is None


@dataclass(frozen=True)
class ParsedFeed:
    """The entries of one feed document and any recoverable problem feedparser noticed."""

    title: str
    version: str
    entries: list[Entry] = field(default_factory=list)
    warning: str | None = None
    ttl: str | None = None  # RSS 2.0 <ttl>, minutes, as written (adaptive polling reads it)


def prepare_body(body: bytes, encoding: str | None) -> tuple[bytes, str | None]:
    """Apply an encoding override (to UTF-8), drop whitespace before the XML declaration and
    strip internal DTD subsets (entity bombs)."""
    prepared, forced, _stripped = _prepare(body, encoding)
    return prepared, forced


def _prepare(body: bytes, encoding: str | None) -> tuple[bytes, str | None, bool]:
    """prepare_body, also saying whether a DTD with entities was removed."""
    forced = None
    if encoding:
        text = body.decode(encoding, errors="replace")
        body = _XML_DECL_ENCODING.sub(rb"\1", text.encode("utf-8"))
        forced = "utf-8"
    if body[:1].isspace() and body.lstrip().startswith(b"<?xml"):
        # Nothing may precede the XML declaration; expat would refuse the whole document.
        body = body.lstrip()
    # Cut from the DOCTYPE (or first ENTITY) to the root element, however long the subset is
    # and whatever its values hold ("]>" inside an entity value ends no regex early). Internal
    # entities are how billion-laughs and quadratic blow-ups work, external ones (SYSTEM
    # "file:///etc/passwd", "http://...") how a feed reads files or calls other hosts: none is
    # needed by a real feed, so the subset goes unread rather than being parsed safely.
    first = _FIRST_ELEMENT.search(body)
    end = first.start() if first else len(body)
    dtd = _DTD_START.search(body, 0, end)
    if dtd is not None and (b"[" in body[dtd.start() : end] or b"<!ENTITY" in body[:end].upper()):
        return body[: dtd.start()] + body[end:], forced, True
    return body, forced, False


def _limit_entries(body: bytes, max_entries: int) -> tuple[bytes, int]:
    """Cut a document with more than ``max_entries`` entries down to the first ones, keeping
    what follows the last entry (the closing tags), so feedparser never builds the rest: a
    10 MB body of empty <item/> elements is over a million entries. Returns (body, count)."""
    count = 0
    cut = None
    for match in _ENTRY_OPEN.finditer(body):
        count += 1
        if count == max_entries + 1:
            cut = match.start()
    if cut is None:
        return body, count
    # The end of the last entry: looked for near the end first (the closing tags are short).
    last_end: re.Match[bytes] | None = None
    for start in (max(cut, len(body) - 65_536), cut):
        for match in _ENTRY_END.finditer(body, start):
            last_end = match
        if last_end is not None:
            break
    if last_end is None:
        return body[:cut], count
    return body[:cut] + body[last_end.end() :], count


def _fallback_encoding(body: bytes, content_type: str | None, language: str) -> str | None:
    """The encoding to decode with before parsing when the document itself does not settle it.

    UTF-16/32 (BOM) is decoded here so the DTD check above sees text, not interleaved NULs.
    An undeclared document is UTF-8 (XML 1.0 section 4.3.3) or, in a Chinese feed, GB18030:
    feedparser would guess ISO-8859-1 or windows-1252 and produce mojibake.
    """
    if body.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if content_type and "charset=" in content_type.lower():
        return None
    if _XML_DECL_ENCODING.match(body.removeprefix(codecs.BOM_UTF8)):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030" if language.lower().startswith("zh") else None
    return "utf-8-sig"


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in ("text/html", "application/xhtml+xml"):
        return True
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head")) or b"<html" in head


def _is_truncated(body: bytes) -> bool:
    """True when the document stops before its root element is closed."""
    return _ROOT_END.search(body[-1024:]) is None


DATE_FIELDS = ("published", "updated", "created")  # feedparser's names (dc:date is "updated")


def _published(
    entry: Any, language: str, now: datetime, zone: tzinfo | None = None
) -> tuple[datetime | None, str | None]:
    """The entry's publication time in UTC, or None with the reason it is unknown.

    Our own reader (feeds/dates.py) goes first: it reads the non-RFC forms real feeds use and
    dates without an offset in the feed's ``timezone:`` (else +08:00 in a Chinese feed, else
    UTC); feedparser's reading is the fallback for forms ours does not know.
    """
    is_zh = language.lower().startswith("zh")
    local = zone or (CHINA if is_zh else UTC)
    # 05/03/2019 is May 3rd in American English, March 5th nearly everywhere else.
    month_first = language.lower() in ("en", "en-us")
    problem: str | None = None
    for name in DATE_FIELDS:
        # dict.get: feedparser's own get() maps a missing "updated" to "published" with a
        # DeprecationWarning.
        raw = dict.get(entry, name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        reading = read_date(
            raw, local, month_first=month_first, cst_is_local=is_zh or zone is not None
        )
        value = reading.value
        if reading.form is None:
            # feedparser's reading of the date, made here for entries of the fast RSS reader.
            key = f"{name}_parsed"
            if key in entry:
                parsed = dict.get(entry, key)
            else:
                parsed = _parse_date(raw) if _parse_date is not None else None
            value = _feedparser_date(parsed)
        if value is None:
            problem = problem or f"unreadable date {raw.strip()[:60]!r}"
            continue
        plausible = _plausible(value, now)
        if plausible is not None:
            return plausible, None
        problem = problem or f"implausible date {raw.strip()[:60]!r} (before 1995 or in the future)"
    return None, problem or "no date in the feed"


def _feedparser_date(parsed: Any) -> datetime | None:
    """feedparser's struct_time (UTC, PITFALLS.md: calendar.timegm, never time.mktime)."""
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _plausible(value: datetime, now: datetime) -> datetime | None:
    """The date, or None when it is before 1995 or more than two days after now (bad clocks,
    placeholder dates such as 0000-00-00 or 9999-12-31): the item is then dated first-seen."""
    if value.tzinfo is None:
        return None
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 with an offset
        return None
    if value < EARLIEST or value > now + MAX_AHEAD:
        return None
    return value


def _key(entry: Any, url: str | None, title: str, summary: str) -> str:
    guid = entry.get("id") or entry.get("guid")
    if isinstance(guid, str) and guid.strip():
        guid = clean_text(guid[:10_000])
        return guid if len(guid) <= 400 else "sha256:" + hashlib.sha256(guid.encode()).hexdigest()
    if url:
        return url if len(url) <= 400 else "sha256:" + hashlib.sha256(url.encode()).hexdigest()
    return "sha256:" + hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()


def _feedparser(
    body: bytes,
    url: str,
    content_type: str | None,
    encoding: str | None,
    language: str,
    max_entries: int,
) -> tuple[Any, bytes, list[str]]:
    """Run feedparser on prepared bytes; returns its result, the bytes it read and notes."""
    notes: list[str] = []
    body, forced, stripped = _prepare(
        body, encoding or _fallback_encoding(body, content_type, language)
    )
    if stripped:
        notes.append(
            "the feed declares a DTD with entities (<!ENTITY>); it was removed unread, so no "
            "entity was expanded or fetched"
        )
    body, count = _limit_entries(body, max_entries)
    if count > max_entries:
        notes.append(
            f"kept the first {max_entries} of {count:,} entries (NEWSLETTER_MAX_ITEMS_PER_FEED)"
        )
    headers = {"content-location": url}
    if forced:
        headers["content-type"] = f"application/xml; charset={forced}"
    elif content_type:
        headers["content-type"] = content_type
    fast = read_rss(body, headers.get("content-type"))
    if fast is not None:
        return fast, body, notes
    body = _without_impossible_charrefs(body)
    # Never a URL or str: feedparser would open local files (PITFALLS.md).
    # feedparser's own sanitizer and link resolution are most of its time; nh3 (clean_html)
    # is the allow-list that counts, and it makes relative links absolute itself.
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    return result, body, notes


def _raw_title(raw: Any) -> str:
    return clean_title(str(raw.get("title") or "")[:MAX_RAW_TITLE_CHARS])


def _other_charset(body: bytes) -> str | None:
    """The one other reading worth a retry: UTF-8 when the bytes are valid UTF-8 (valid
    multi-byte UTF-8 is practically never accidental), else GB18030; none for UTF-16/32."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in body[:1024]:
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _mojibake_score(result: Any, language: str) -> tuple[int, int]:
    """(titles that look like mojibake, minus Chinese titles): lower is a better decoding."""
    titles = [_raw_title(raw) for raw in (result.get("entries") or [])[:50]]
    titles.append(_raw_title(result.get("feed", {})))
    bad = sum(1 for t in titles if looks_like_mojibake(t, language))
    return bad, -sum(1 for t in titles if has_cjk(t))


def _problem(result: Any) -> Exception | None:
    problem = result.get("bozo_exception")
    if problem is not None and "no Content-type specified" in str(problem):
        return None  # the server sent no Content-Type: not a problem with the document
    return problem if isinstance(problem, Exception) else None


def _impossible_to_replacement(match: re.Match[bytes]) -> bytes:
    digits = match.group(1)
    code = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
        return b""
    return match.group(0)


def _without_impossible_charrefs(body: bytes) -> bytes:
    """The body without character references to no character (a lone surrogate such as
    ``&#xD800;``, or past U+10FFFF): feedparser's loose parser turns them into a string it
    cannot encode and stops, the whole feed lost. (Not U+FFFD in their place: a title with it
    is left out as mojibake.)"""
    if b"&#" not in body:
        return body
    return _CHARREF.sub(_impossible_to_replacement, body)


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    encoding: str | None = None,
    language: str = "en",
    now: datetime | None = None,
    timezone: tzinfo | None = None,
    max_entries: int = MAX_ENTRIES,
) -> ParsedFeed:
    """Parse one feed document (bytes) into entries; FeedError when it is not a usable feed.

    ``timezone`` is the feed's zone for dates written without an offset; ``max_entries`` caps
    the entries read (the first ones in the document).
    """
    now = now or datetime.now(UTC)
    if not body or body.isspace():
        raise FeedError(
            "not an RSS or Atom feed: the server sent an empty body; check the feed URL"
        )
    result, read, notes = _feedparser(body, url, content_type, encoding, language, max_entries)
    if encoding is None and language.lower().startswith("zh"):
        score = _mojibake_score(result, language)
        candidate = _other_charset(body) if score[0] else None
        if candidate is not None:
            # A Chinese feed that decodes to mojibake: its charset is wrong (PITFALLS.md).
            other = _feedparser(body, url, content_type, candidate, language, max_entries)
            other_score = _mojibake_score(other[0], language)
            if other_score[0] < score[0] and other_score[1] <= score[1]:
                result, read, notes = other
                notes.append(
                    f"titles decoded to mojibake with the declared character set; read as "
                    f"{candidate} instead (set encoding: {candidate} on this feed to skip the retry)"
                )
    problem = _problem(result)
    version = result.get("version") or ""
    raw_entries = result.get("entries") or []
    if not raw_entries:
        if not version:
            if _looks_like_html(read, content_type):
                raise FeedError(
                    "not an RSS or Atom feed: the URL returned an HTML page; check the feed URL"
                )
            detail = f" ({problem})" if problem else ""
            raise FeedError(f"not an RSS or Atom feed{detail}; check the feed URL")
        if problem:
            if _is_truncated(read):
                raise FeedError(
                    f"malformed feed with no readable entries: the document is truncated "
                    f"({problem}); the server cut it short, it may work at the next poll"
                )
            raise FeedError(f"malformed feed with no readable entries: {problem}")
    entries, dropped = _entries(raw_entries[:max_entries], url, language, now, timezone)
    if dropped:
        if not entries:
            raise FeedError(
                f"every title is mojibake (text decoded with the wrong character set, "
                f"{dropped} entries); set encoding: on this feed in feeds.yaml, such as gb18030"
            )
        notes.append(f"{dropped} entries left out: their titles are mojibake")
    feed_title = _raw_title(result.get("feed", {}))
    if looks_like_mojibake(feed_title, language):
        feed_title = repair_mojibake(feed_title) or ""
    warnings = list(notes)
    if problem is not None:
        truncated = "; the document is truncated" if _is_truncated(read) else ""
        warnings.insert(0, f"recovered from: {problem}{truncated}")
    return ParsedFeed(
        title=feed_title[:MAX_FEED_TITLE_CHARS],
        version=version,
        entries=entries,
        warning="; ".join(warnings) or None,
        ttl=_ttl(result.get("feed", {})),
    )


def _ttl(feed: Any) -> str | None:
    """The channel's <ttl> text, at most 20 characters; None when absent."""
    value = feed.get("ttl") if hasattr(feed, "get") else None
    return value.strip()[:20] if isinstance(value, str) else None


def _entries(
    raw_entries: list[Any], base: str, language: str, now: datetime, zone: tzinfo | None
) -> tuple[list[Entry], int]:
    """Normalized entries, and how many were left out because their titles are mojibake."""
    entries: list[Entry] = []
    seen: set[str] = set()
    dropped = 0
    for raw in raw_entries:
        link = canonical_url(str(raw.get("link") or "")[: MAX_URL_CHARS * 2] or None, base)
        if link is not None and len(link) > MAX_URL_CHARS:
            link = None
        title = _raw_title(raw)
        if looks_like_mojibake(title, language):
            repaired = repair_mojibake(title)
            if repaired is None:
                dropped += 1
                continue
            title = clean_title(repaired)
        summary_source = raw.get("summary") or ""
        if not summary_source and raw.get("content"):
            summary_source = raw["content"][0].get("value") or ""
        # Blocks kept apart (div, h1/h2 become <br>, h3), so the text keeps its paragraphs and
        # a heading never runs into the first sentence; source tags are dropped from the text.
        summary_html = clean_html(str(summary_source), base=base, keep_blocks=True)
        # Tags and glued headings are looked for in the first blocks only (what the issue shows,
        # at ingest cost); key points clean every paragraph (service/articles.py).
        blocks = html_blocks(summary_html, clean_first=SUMMARY_CLEANED_BLOCKS, sanitized=True)
        summary_text = blocks_text(blocks)[:MAX_SUMMARY_TEXT_CHARS]
        if title:
            # Title-only feeds (WeChat bridges) repeat the title as the content: no summary then.
            summary_text = summary_without_title(summary_text, title)
            if not summary_text:
                summary_html = ""
        else:
            title = summary_text[:80] or (link or "(untitled)")
        title = title[:MAX_TITLE_CHARS]
        key = _key(raw, link, title, summary_text)
        if key in seen:
            continue
        seen.add(key)
        author = clean_text(str(raw.get("author") or "")[:MAX_RAW_TITLE_CHARS])[:MAX_AUTHOR_CHARS]
        published, date_note = _published(raw, language, now, zone)
        entries.append(
            Entry(
                key=key,
                url=link,
                title=title,
                summary_html=summary_html,
                summary_text=summary_text,
                author=author or None,
                published=published,
                content_hash=hashlib.sha256(f"{title}\n{summary_text}".encode()).hexdigest(),
                date_note=date_note,
            )
        )
    return entries, dropped
