"""Feed bytes to normalized entries: feedparser on bytes only, UTC dates, stable keys, clean text."""

from __future__ import annotations

import calendar
import codecs
import email.utils
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import feedparser

from newsletter.errors import FeedError
from newsletter.text import canonical_url, clean_html, clean_text, clean_title, html_to_text

MAX_ENTRIES = 500
# feedparser splits the prologue at the first "<\w" and re-declares "safe" ENTITYs found there.
_FIRST_ELEMENT = re.compile(rb"<\w")
_DTD_START = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?)\sencoding=[\"'][^\"']*[\"']", re.IGNORECASE)
_ZH_DATE = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?"
)
CHINA = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Entry:
    """One normalized feed entry; ``published`` is None when the feed gave no usable date."""

    key: str
    url: str | None
    title: str
    summary_html: str
    summary_text: str
    author: str | None
    published: datetime | None
    content_hash: str


@dataclass(frozen=True)
class ParsedFeed:
    """The entries of one feed document and any recoverable problem feedparser noticed."""

    title: str
    version: str
    entries: list[Entry] = field(default_factory=list)
    warning: str | None = None


def prepare_body(body: bytes, encoding: str | None) -> tuple[bytes, str | None]:
    """Apply an encoding override (to UTF-8), drop whitespace before the XML declaration and
    strip internal DTD subsets (entity bombs)."""
    forced = None
    if encoding:
        text = body.decode(encoding, errors="replace")
        body = _XML_DECL_ENCODING.sub(rb"\1", text.encode("utf-8"))
        forced = "utf-8"
    if body[:1].isspace() and body.lstrip().startswith(b"<?xml"):
        # Nothing may precede the XML declaration; expat would refuse the whole document.
        body = body.lstrip()
    # Cut from the DOCTYPE (or first ENTITY) to the root element, however long the subset is
    # and whatever its values hold ("]>" inside an entity value ends no regex early).
    first = _FIRST_ELEMENT.search(body)
    end = first.start() if first else len(body)
    dtd = _DTD_START.search(body, 0, end)
    if dtd is not None and (b"[" in body[dtd.start() : end] or b"<!ENTITY" in body[:end].upper()):
        body = body[: dtd.start()] + body[end:]
    return body, forced


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


def _china_standard_time(raw: str) -> datetime | None:
    """A date ending in 'CST' read as China Standard Time (+08:00), RFC 822 or ISO style."""
    text = raw.strip()[:-3].strip()
    try:
        return email.utils.parsedate_to_datetime(text + " +0800").astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=CHINA).astimezone(UTC) if value.tzinfo is None else None


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in ("text/html", "application/xhtml+xml"):
        return True
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head")) or b"<html" in head


def _published(entry: Any, language: str, now: datetime) -> datetime | None:
    raw = entry.get("published") or entry.get("updated") or entry.get("dc_date") or ""
    if isinstance(raw, str):
        match = _ZH_DATE.search(raw)
        if match:
            # feedparser silently misreads Chinese dates (PITFALLS.md); read them ourselves.
            y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
            try:
                return _plausible(datetime(y, mo, d, h, mi, s, tzinfo=CHINA).astimezone(UTC), now)
            except ValueError:
                return None
        if raw.rstrip().upper().endswith(" CST") and language.startswith("zh"):
            # feedparser reads CST as US Central (UTC-6), or drops it; Chinese feeds mean +08:00.
            china = _china_standard_time(raw)
            return _plausible(china, now) if china else None
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        value = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return _plausible(value, now)


def _plausible(value: datetime, now: datetime) -> datetime | None:
    if value.year < 1995 or value > now + timedelta(days=2):
        return None
    return value


def _key(entry: Any, url: str | None, title: str, summary: str) -> str:
    guid = entry.get("id") or entry.get("guid")
    if isinstance(guid, str) and guid.strip():
        guid = clean_text(guid)
        return guid if len(guid) <= 400 else "sha256:" + hashlib.sha256(guid.encode()).hexdigest()
    if url:
        return url if len(url) <= 400 else "sha256:" + hashlib.sha256(url.encode()).hexdigest()
    return "sha256:" + hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    encoding: str | None = None,
    language: str = "en",
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse one feed document (bytes) into entries; FeedError when it is not a usable feed."""
    now = now or datetime.now(UTC)
    body, forced = prepare_body(body, encoding or _fallback_encoding(body, content_type, language))
    headers = {"content-location": url}
    if forced:
        headers["content-type"] = f"application/xml; charset={forced}"
    elif content_type:
        headers["content-type"] = content_type
    # Never a URL or str: feedparser would open local files (PITFALLS.md).
    result = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True)
    problem = result.get("bozo_exception")
    if problem is not None and "no Content-type specified" in str(problem):
        problem = None  # the server sent no Content-Type: not a problem with the document
    version = result.get("version") or ""
    raw_entries = result.get("entries") or []
    if not raw_entries:
        if not version:
            if _looks_like_html(body, content_type):
                raise FeedError(
                    "not an RSS or Atom feed: the URL returned an HTML page; check the feed URL"
                )
            detail = f" ({problem})" if problem else ""
            raise FeedError(f"not an RSS or Atom feed{detail}; check the feed URL")
        if problem:
            raise FeedError(f"malformed feed with no readable entries: {problem}")
    base = url
    entries: list[Entry] = []
    seen: set[str] = set()
    for raw in raw_entries[:MAX_ENTRIES]:
        link = canonical_url(raw.get("link"), base)
        title = clean_title(raw.get("title") or "")
        summary_source = raw.get("summary") or ""
        if not summary_source and raw.get("content"):
            summary_source = raw["content"][0].get("value") or ""
        summary_html = clean_html(summary_source)
        summary_text = html_to_text(summary_html)
        if not title:
            title = summary_text[:80] or (link or "(untitled)")
        key = _key(raw, link, title, summary_text)
        if key in seen:
            continue
        seen.add(key)
        author = clean_text(raw.get("author") or "")[:300] or None
        entries.append(
            Entry(
                key=key,
                url=link,
                title=title[:1000],
                summary_html=summary_html,
                summary_text=summary_text,
                author=author,
                published=_published(raw, language, now),
                content_hash=hashlib.sha256(f"{title}\n{summary_text}".encode()).hexdigest(),
            )
        )
    feed_title = clean_title(result.get("feed", {}).get("title") or "")
    warning = None if problem is None else f"recovered from: {problem}"
    return ParsedFeed(title=feed_title, version=version, entries=entries, warning=warning)
