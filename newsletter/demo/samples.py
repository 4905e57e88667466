"""Turn the bundled sample_feeds.yaml into real RSS 2.0 / Atom documents dated around a given time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

SAMPLES = Path(__file__).parent / "sample_feeds.yaml"
_PLACEHOLDER = re.compile(r"\{(date\+(\d+):(en|zh)|days:(\d+))\}")
WEEK_HOURS = 7 * 24


@dataclass(frozen=True)
class SampleFeed:
    """One generated feed document."""

    slug: str
    title: str
    language: str
    encoding: str
    body: bytes

    @property
    def path(self) -> str:
        """URL path on the demo server."""
        return f"/feeds/{self.slug}.xml"

    @property
    def content_type(self) -> str:
        """Content-Type header to serve it with."""
        return f"application/xml; charset={self.encoding}"


def load_samples(path: Path = SAMPLES) -> list[dict[str, Any]]:
    """The sample feed definitions."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    feeds: list[dict[str, Any]] = data["feeds"]
    return feeds


def _fill(text: str, now: datetime) -> str:
    def sub(match: re.Match[str]) -> str:
        if match.group(4):
            return match.group(4)
        day = now + timedelta(days=int(match.group(2)))
        if match.group(3) == "zh":
            return f"{day.month}月{day.day}日"
        return f"{day:%B} {day.day}, {day.year}"

    return _PLACEHOLDER.sub(sub, text)


def _published(hours_ago: float, now: datetime, earliest: datetime | None) -> datetime:
    """Spread items over the past week, squeezed into (earliest, now] when a window is given."""
    if earliest is None:
        return now - timedelta(hours=hours_ago)
    span = (now - earliest).total_seconds()
    fraction = min(hours_ago, WEEK_HOURS) / (WEEK_HOURS + 1)
    return now - timedelta(seconds=max(1.0, span * fraction))


def article_page(item: dict[str, Any], site_title: str) -> bytes:
    """A realistic article page (navigation, article, footer) for an item with ``article``."""
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in item["article"])
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{escape(item['title'])} | {escape(site_title)}</title></head><body>"
        f"<header><nav><a href='/'>{escape(site_title)}</a> · <a href='/news'>News</a> · "
        "<a href='/subscribe'>Subscribe</a></nav></header>"
        f"<main><article><h1>{escape(item['title'])}</h1>{paragraphs}</article></main>"
        "<aside><h2>Most read</h2><ul><li>Another story</li><li>Yet another story</li></ul></aside>"
        f"<footer>© 2026 {escape(site_title)}. All rights reserved.</footer></body></html>"
    ).encode()


def article_path(item: dict[str, Any]) -> str:
    """Where the demo's server serves a sample item's full article."""
    return f"/articles/{item['id']}.html"


def article_links() -> dict[str, str]:
    """The link of every sample item that has a full article -> the article's path."""
    return {
        item["link"]: article_path(item)
        for feed in load_samples()
        for item in feed["items"]
        if item.get("article")
    }


def article_pages() -> dict[str, bytes]:
    """URL path -> page bytes for every sample item that has a full article."""
    return {
        article_path(item): article_page(item, feed["title"])
        for feed in load_samples()
        for item in feed["items"]
        if item.get("article")
    }


def render_feed(
    feed: dict[str, Any],
    now: datetime,
    earliest: datetime | None = None,
    latest: datetime | None = None,
) -> SampleFeed:
    """One sample feed as RSS 2.0 or Atom bytes in its declared encoding.

    Items are dated in (earliest, latest] (latest defaults to now); event placeholders count
    from now. Every item links to its (fictional) site; the full articles are served apart,
    at ``article_path``.
    """
    encoding = feed.get("encoding", "utf-8")
    entries = []
    for item in feed["items"]:
        published = _published(float(item["hours_ago"]), latest or now, earliest)
        entries.append((item, _fill(item["title"], now), _fill(item["summary"], now), published))
    site = feed["site"]
    if feed["format"] == "atom":
        parts = [
            f'<?xml version="1.0" encoding="{encoding}"?>',
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{feed["language"]}">',
            f"<title>{escape(feed['title'])}</title>",
            f'<link href="{escape(site)}"/>',
            f"<id>{escape(site)}/</id>",
            f"<updated>{now.isoformat()}</updated>",
        ]
        for item, title, summary, published in entries:
            parts += [
                "<entry>",
                f"<title>{escape(title)}</title>",
                f'<link href="{escape(item["link"])}"/>',
                f"<id>{escape(site)}/{escape(item['id'])}</id>",
                f"<updated>{published.isoformat()}</updated>",
                f"<published>{published.isoformat()}</published>",
                f'<summary type="html">{escape(summary)}</summary>',
                "</entry>",
            ]
        parts.append("</feed>")
    else:
        parts = [
            f'<?xml version="1.0" encoding="{encoding}"?>',
            '<rss version="2.0">',
            "<channel>",
            f"<title>{escape(feed['title'])}</title>",
            f"<link>{escape(site)}</link>",
            f"<description>{escape(feed['title'])}</description>",
            f"<language>{feed['language']}</language>",
        ]
        for item, title, summary, published in entries:
            parts += [
                "<item>",
                f"<title>{escape(title)}</title>",
                f"<link>{escape(item['link'])}</link>",
                f'<guid isPermaLink="false">{escape(item["id"])}</guid>',
                f"<pubDate>{format_datetime(published)}</pubDate>",
                f"<description>{escape(summary)}</description>",
                "</item>",
            ]
        parts += ["</channel>", "</rss>"]
    body = "\n".join(parts).encode(encoding)
    return SampleFeed(feed["slug"], feed["title"], feed["language"], encoding, body)


def render_samples(
    now: datetime,
    earliest: datetime | None = None,
    latest: datetime | None = None,
) -> list[SampleFeed]:
    """Every bundled sample feed, dated in (earliest, latest or now]."""
    return [render_feed(feed, now, earliest, latest) for feed in load_samples()]
