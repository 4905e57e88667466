"""Feed bytes to normalized entries: feedparser on bytes only, UTC dates, stable keys, clean text."""

from __future__ import annotations

import calendar
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
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(rb"^(\s*<\?xml[^>]*?)\sencoding=[\"'][^\"']*[\"']", re.IGNORECASE)
_ZH_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?")
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
    """Strip internal DTD subsets (entity bombs) and apply an encoding override."""
    head, tail = body[:65536], body[65536:]
    if b"<!DOCTYPE" in head.upper() or b"<!doctype" in head:
        head = _DOCTYPE_SUBSET.sub(b"", head)
    body = head + tail
    if encoding:
        text = body.decode(encoding, errors="replace")
        body = _XML_DECL_ENCODING.sub(rb"\1", text.encode("utf-8"))
        return body, "utf-8"
    return body, None


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
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        value = datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None
    if isinstance(raw, str) and raw.rstrip().upper().endswith(" CST") and language.startswith("zh"):
        # feedparser reads CST as US Central (UTC-6); Chinese feeds mean China Standard (+8).
        value -= timedelta(hours=14)
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
    body, forced = prepare_body(body, encoding)
    headers = {"content-location": url}
    if forced:
        headers["content-type"] = f"application/xml; charset={forced}"
    elif content_type:
        headers["content-type"] = content_type
    # Never a URL or str: feedparser would open local files (PITFALLS.md).
    result = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=True)
    problem = result.get("bozo_exception")
    version = result.get("version") or ""
    raw_entries = result.get("entries") or []
    if not raw_entries:
        if not version:
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
    quiet = problem is None or "no Content-type specified" in str(problem)
    warning = None if quiet else f"recovered from: {problem}"
    return ParsedFeed(title=feed_title, version=version, entries=entries, warning=warning)
