"""Test helpers: feeds with items inside a period, served over loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from newsletter.demo.server import FeedServer, Route
from newsletter.email.tokens import new_token
from newsletter.service.app import App

# Display names of every kind a header must carry: plain, Chinese, parentheses, none, accents,
# and a comma and an apostrophe.
NAMES = ("Alex Reader", "张伟", "Li Na (医学编辑)", None, "Dr. María-José Núñez", "O'Brien, Pat")

STORIES = [
    ("Acme Health raises $25M Series B led by Beacon Capital", "financing"),
    ("FDA approves first oral GLP-1 pill for adults", "headlines"),
    ("Medicare policy update for digital therapeutics", "hot_topics"),
    ("Global Digital Health Summit opens in 21 days, register now", "events"),
    ("Orbis Robotics partners with City Hospital", "industry"),
    ("2026 digital health funding report: a deep dive", "reports"),
    ("康澜生物完成2000万美元A轮融资，云岭资本领投", "financing"),
    ("第十届医疗创新峰会倒计时10天", "events"),
]


def rss(items: list[tuple[str, str, datetime]], encoding: str = "utf-8") -> bytes:
    """A small RSS 2.0 document of (title, guid, published)."""
    entries = "".join(
        f"<item><title>{title}</title><link>https://example.com/{guid}?utm_source=x</link>"
        f"<guid>{guid}</guid><pubDate>{format_datetime(when)}</pubDate>"
        f"<description>&lt;p&gt;About {title}&lt;/p&gt;</description></item>"
        for title, guid, when in items
    )
    doc = (
        f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel>'
        f"<title>Test feed</title>{entries}</channel></rss>"
    )
    return doc.encode(encoding)


def serve_stories(
    server: FeedServer, period_end: datetime, path: str = "/stories.xml"
) -> dict[str, Any]:
    """Serve the STORIES, published in the day before period_end (never in the future); returns a
    feeds.yaml entry."""
    when = min(period_end - timedelta(days=1), datetime.now(UTC) - timedelta(hours=1))
    items = [(title, f"s{i}", when - timedelta(hours=i)) for i, (title, _) in enumerate(STORIES)]
    server.routes[path] = Route(rss(items), "application/rss+xml")
    return {"name": "Stories", "url": server.url(path), "section": "headlines", "language": "en"}


def add_subscribers(app: App, count: int) -> dict[int, str]:
    """Insert ``count`` active subscribers in one statement (varied addresses and names);
    returns id -> address."""
    now = datetime.now(UTC)
    rows = [
        {
            "email": f"reader.{n:05d}{'-x' * (n % 4)}@example{n % 13}.com",
            "name": NAMES[n % len(NAMES)],
            "status": "active",
            "token": new_token(),
            "source": "test",
            "consent_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(count)
    ]
    table = SQLModel.metadata.tables["subscriber"]
    with app.engine.begin() as conn:
        conn.execute(sa.insert(table), rows)
        return {int(i): e for i, e in conn.execute(sa.select(table.c.id, table.c.email))}
