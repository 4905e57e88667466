"""The whole path over real loopback HTTP and SMTP: feeds in, messages received."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.email.transports import SmtpSettings, SmtpTransport
from newsletter.service.catalog import feed_health
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.subscribers import add_subscriber

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not

NOW = datetime.now(UTC)


def rss(items: list[tuple[str, str, datetime]], encoding: str = "utf-8") -> bytes:
    """A small RSS 2.0 document."""
    entries = "".join(
        f"<item><title>{title}</title><link>https://example.com/{guid}</link><guid>{guid}</guid>"
        f"<pubDate>{format_datetime(when)}</pubDate><description>About {title}</description></item>"
        for title, guid, when in items
    )
    doc = f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>T</title>{entries}</channel></rss>'
    return doc.encode(encoding)


def serve_mix(server: FeedServer, period_end: datetime) -> list[dict[str, Any]]:
    """Feeds: a good one, a gzip one, one that is down, one malformed, one GB2312."""
    t = period_end - timedelta(days=1)
    server.routes["/good.xml"] = Route(
        rss(
            [
                ("Acme Health raises $25M Series B led by Beacon Capital", "g1", t),
                ("FDA approves first oral GLP-1 pill", "g2", t - timedelta(hours=3)),
                ("Medicare policy update for digital therapeutics", "g3", t - timedelta(hours=5)),
                ("Global Digital Health Summit opens registration", "g4", t - timedelta(hours=7)),
            ]
        ),
        "application/rss+xml",
    )
    server.routes["/gzip.xml"] = Route(
        gzip.compress(rss([("Orbis Robotics partners with City Hospital", "z1", t)])),
        "application/rss+xml",
        headers={"Content-Encoding": "gzip"},
    )
    server.routes["/down.xml"] = Route(b"upstream down", "text/plain", status=503)
    server.routes["/broken.xml"] = Route(
        b"<rss version='2.0'><channel><item><title>Unclosed story</title>", "application/xml"
    )
    server.routes["/junk.xml"] = Route(
        b"<html><body><p>Document moved</p></body></html>", "text/html"
    )
    server.routes["/gb.xml"] = Route(
        rss(
            [
                ("康澜生物完成2000万美元A轮融资，云岭资本领投", "c1", t),
                ("医保目录调整方案发布", "c2", t),
            ],
            "gb2312",
        ),
        "application/xml; charset=gb2312",
    )
    names = [
        ("Good", "/good.xml", "headlines"),
        ("Gzip", "/gzip.xml", "industry"),
        ("Down", "/down.xml", "headlines"),
        ("Broken", "/broken.xml", "headlines"),
        ("Junk", "/junk.xml", "headlines"),
        ("中文", "/gb.xml", "headlines"),
    ]
    return [
        {"name": n, "url": server.url(p), "section": s, "language": "zh" if n == "中文" else "en"}
        for n, p, s in names
    ]


def test_feeds_to_smtp_messages(
    make_app: Any, feed_server: FeedServer, smtp_server: Any, tmp_path: Path
) -> None:
    app = make_app(feeds=[])
    period = resolve_period(app, now=NOW, due=True)
    app = make_app(feeds=serve_mix(feed_server, period.end))

    report = ingest(app)
    by_name = {o.name: o for o in report.outcomes}
    assert by_name["Good"].status == "ok" and by_name["Good"].new_items == 4
    assert by_name["Gzip"].new_items == 1
    assert by_name["中文"].new_items == 2
    assert by_name["Down"].status == "error" and "503" in (by_name["Down"].error or "")
    # Malformed but recoverable: its entry is kept and the problem noted on the feed.
    assert by_name["Broken"].status == "ok" and by_name["Broken"].new_items == 1
    assert "recovered" in (by_name["Broken"].warning or "")
    assert by_name["Junk"].status == "error" and "not an RSS or Atom feed" in (
        by_name["Junk"].error or ""
    )

    again = ingest(app)
    assert again.new_items == 0
    assert {o.name: o.status for o in again.outcomes}["Good"] == "not_modified"

    health = {row.name: row for row in feed_health(app)}
    assert health["Down"].consecutive_failures == 2
    assert health["Good"].items == 4 and health["Good"].status == "not_modified"

    for email, name in [
        ("a@example.com", "Ann"),
        ("b@example.com", "张伟"),
        ("c@example.com", None),
    ]:
        add_subscriber(app, email, name)
    transport = SmtpTransport(SmtpSettings(host="127.0.0.1", port=smtp_server.port, tls="none"))
    sent = send_issue(app, period, transport)
    assert sent.status == "sent" and sent.sent == 3
    assert sorted(r.rcpt_tos[0] for r in smtp_server.received) == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
    ]

    msg = smtp_server.received[0].message()
    assert msg.get_content_type() == "multipart/alternative"
    text_part, html_part = msg.get_payload()
    assert (
        text_part.get_content_type() == "text/plain" and html_part.get_content_type() == "text/html"
    )
    assert "Acme Health raises $25M" in text_part.get_content()
    html = html_part.get_content()
    # The financing table: company, round, amount as written, lead investor.
    for cell in (
        "康澜生物",
        "Series A",
        "2000万美元",
        "云岭资本",
        "Acme Health",
        "$25M",
        "Beacon Capital",
    ):
        assert cell in html, cell
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith("<https://news.example.com/unsubscribe/")
    assert "mailto:" in msg["List-Unsubscribe"]
    assert msg["List-Id"] and msg["Message-ID"].endswith("@news.example.com>")

    # Sending again sends nothing twice.
    again_sent = send_issue(
        app,
        period,
        SmtpTransport(SmtpSettings(host="127.0.0.1", port=smtp_server.port, tls="none")),
    )
    assert again_sent.status == "already-sent"
    assert len(smtp_server.received) == 3
