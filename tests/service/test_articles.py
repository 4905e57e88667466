"""Key points come from the full article (fetched over HTTP when the feed has only a teaser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from newsletter.demo.server import FeedServer, Route
from newsletter.service.catalog import list_items
from newsletter.service.editing import change_item
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period

PARAGRAPHS = [
    "The agency published final guidance on how makers of AI-enabled devices document model updates.",
    "Manufacturers can now describe planned changes in advance and skip a new submission for each retraining.",
    "Industry groups welcomed the rules but asked for clarity on generative tools used in clinical care.",
    "The agency will hold a public webinar next month and update its list of authorized devices twice a year.",
    "Analysts expect the first approvals under the new process within about twelve months.",
]


def page(title: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        f"<html><head><title>{title}</title></head><body><nav>Home · News</nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>© Site</footer></body></html>"
    ).encode()


def test_teaser_gets_its_article_fetched_and_cited(make_app: Any, feed_server: FeedServer) -> None:
    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    when = format_datetime(period.end - timedelta(hours=5))
    title = "FDA finalizes AI device policy guidance"
    feed_server.routes["/article.html"] = Route(page(title), "text/html; charset=utf-8")
    feed_server.routes["/feed.xml"] = Route(
        (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>{title}</title>'
            f"<link>{feed_server.url('/article.html')}</link><guid>a1</guid><pubDate>{when}</pubDate>"
            "<description>A short teaser.</description></item></channel></rss>"
        ).encode(),
        "application/rss+xml",
    )
    app = make_app(
        feeds=[{"name": "Wire", "url": feed_server.url("/feed.xml"), "section": "headlines"}]
    )
    ingest(app)
    _lead_hot_topics(app, period)
    built = build_issue(app, period)
    top = next(s for s in built.content.sections if s.id == "hot_topics").items[0]
    assert top.key_points_source == "article"
    assert 3 <= len(top.key_points) <= 5
    for point in top.key_points:
        assert point["text"] in PARAGRAPHS[point["paragraph"] - 1]
    assert built.rendered is not None and "[¶" in built.rendered.html
    fetches = [path for path, _ in feed_server.requests if path == "/article.html"]
    assert len(fetches) == 1
    build_issue(app, period)  # the article is kept: no second fetch
    assert [path for path, _ in feed_server.requests if path == "/article.html"] == fetches


def test_unreachable_article_falls_back_to_the_summary(
    make_app: Any, feed_server: FeedServer
) -> None:
    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    when = format_datetime(period.end - timedelta(hours=5))
    summary = (
        "Regulators issued new policy today. The rules cover device updates. "
        "Comments are due in sixty days. A webinar follows next month."
    )
    feed_server.routes["/feed.xml"] = Route(
        (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
            f"<title>New policy on device updates</title><link>{feed_server.url('/gone.html')}</link>"
            f"<guid>a2</guid><pubDate>{when}</pubDate><description>{summary}</description></item>"
            "</channel></rss>"
        ).encode(),
        "application/rss+xml",
    )
    app = make_app(
        feeds=[{"name": "Wire", "url": feed_server.url("/feed.xml"), "section": "headlines"}]
    )
    ingest(app)
    _lead_hot_topics(app, period)
    top = next(s for s in build_issue(app, period).content.sections if s.id == "hot_topics").items[
        0
    ]
    assert top.key_points_source == "summary" and top.key_points


def _lead_hot_topics(app: Any, period: Any) -> None:
    """The editor pins the one stored item as the top story (key points are the top story's)."""
    (item,) = list_items(app)
    change_item(app, period, "pin", item.id or 0, "hot_topics")
