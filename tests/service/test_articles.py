"""Key points come from the full article (fetched over HTTP when the feed has only a teaser)."""

from __future__ import annotations

import re
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


FULL_TEXT = [
    "The agency published final guidance on how makers of AI-enabled devices document model "
    "updates. It replaces a draft from 2023.",
    "Manufacturers can now describe planned changes in advance and skip a new submission for each "
    "retraining. The plan must say how each change will be tested.",
    "Industry groups welcomed the rules but asked for clarity on generative tools used in clinical "
    "care. Hospitals asked for more transparency about training data.",
    "The agency will hold a public webinar next month and update its list of authorized devices "
    "twice a year. Analysts expect the first approvals under the new process within a year.",
]


def _feed(feed_server: FeedServer, period_end: datetime, item_xml: str) -> None:
    when = format_datetime(period_end - timedelta(hours=5))
    feed_server.routes["/feed.xml"] = Route(
        (
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>T</title>'
            f"<item>{item_xml}<pubDate>{when}</pubDate></item></channel></rss>"
        ).encode(),
        "application/rss+xml",
    )


def test_full_text_feed_key_points_cite_its_paragraphs(
    make_app: Any, feed_server: FeedServer
) -> None:
    """Paragraphs of the feed's own full text (div blocks, a heading between them) are kept, so
    the points cite paragraphs 1-4, not all [¶1]."""
    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    html = (
        f"<div>{FULL_TEXT[0]}</div><div>{FULL_TEXT[1]}</div><h2>Reactions</h2>"
        f"<div>{FULL_TEXT[2]}</div><div>(Source: FDA) {FULL_TEXT[3]}</div>"
    )
    _feed(
        feed_server,
        period.end,
        "<title>FDA finalizes AI device policy guidance</title><guid>f1</guid>"
        f"<content:encoded><![CDATA[{html}]]></content:encoded>",
    )
    app = make_app(
        feeds=[{"name": "Wire", "url": feed_server.url("/feed.xml"), "section": "headlines"}],
        newsletter={"fetch_articles": False},
    )
    ingest(app)
    _lead_hot_topics(app, period)
    top = next(s for s in build_issue(app, period).content.sections if s.id == "hot_topics").items[
        0
    ]
    assert top.key_points_source == "summary"
    cited = {point["paragraph"] for point in top.key_points}
    assert len(cited) >= 2 and max(cited) > 1
    for point in top.key_points:
        assert point["text"] in FULL_TEXT[point["paragraph"] - 1]


def test_title_only_item_shows_as_a_headline(make_app: Any, feed_server: FeedServer) -> None:
    """A WeChat-bridge item: content:encoded repeats the title. No summary, no key points: the
    top story is its headline with source and date."""
    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    title = "重磅！国家医保局：2021年医保目录调整工作方案公布，这些药有望进入目录？"
    _feed(
        feed_server,
        period.end,
        f"<title>{title}</title><guid>w1</guid><link>{feed_server.url('/gone.html')}</link>"
        f"<description></description><content:encoded><![CDATA[{title}]]></content:encoded>",
    )
    app = make_app(
        feeds=[
            {
                "name": "医药号",
                "url": feed_server.url("/feed.xml"),
                "section": "headlines",
                "language": "zh",
            }
        ]
    )
    ingest(app)
    _lead_hot_topics(app, period)
    built = build_issue(app, period)
    top = next(s for s in built.content.sections if s.id == "hot_topics").items[0]
    assert top.title == title
    assert top.summary == "" and top.key_points == []
    assert built.rendered is not None
    html = built.rendered.html
    shown = re.sub(r'<span class="preheader".*?</span>', "", html[html.index("<body") :])
    assert shown.count(title) == 1  # the headline, never repeated as a summary or a point
    assert "[¶" not in html and "医药号" in html


SECTIONED = [
    (
        None,
        "The agency published final guidance on how makers of AI-enabled devices document model "
        "updates. It replaces a draft from 2023 and takes effect in March.",
    ),
    (
        "What changes for manufacturers",
        "Manufacturers can now describe planned changes in advance and skip a new submission for "
        "each retraining. The plan must say how each change will be tested and monitored.",
    ),
    (
        "How industry reacted",
        "Industry groups welcomed the rules but asked for clarity on generative tools used in "
        "clinical care. Hospitals asked for more transparency about the training data of devices.",
    ),
    (
        "What comes next",
        "The agency will hold a public webinar next month and update its list of authorized devices "
        "twice a year. Analysts expect the first approvals under the new process within a year.",
    ),
]


def test_a_long_article_gets_a_brief_under_its_own_subheadings(
    make_app: Any, feed_server: FeedServer
) -> None:
    """The fetched article keeps its subheadings (stored with the text): the top story gets
    core insights and groups under them, in the HTML and the text part, and again from the
    stored text on the next build."""
    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    title = "FDA finalizes AI device policy guidance"
    body = "".join(
        (f"<h2>{heading}</h2>" if heading else "") + f"<p>{text}</p>" for heading, text in SECTIONED
    )
    feed_server.routes["/article.html"] = Route(
        (
            f"<html><head><title>{title}</title></head><body><nav>Home · News</nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>© Site</footer></body></html>"
        ).encode(),
        "text/html; charset=utf-8",
    )
    _feed(
        feed_server,
        period.end,
        f"<title>{title}</title><link>{feed_server.url('/article.html')}</link><guid>b1</guid>"
        "<description>A short teaser.</description>",
    )
    app = make_app(
        feeds=[{"name": "Wire", "url": feed_server.url("/feed.xml"), "section": "headlines"}]
    )
    ingest(app)
    _lead_hot_topics(app, period)
    built = build_issue(app, period)
    top = next(s for s in built.content.sections if s.id == "hot_topics").items[0]
    assert top.brief is not None
    paragraphs = [text for _, text in SECTIONED]
    assert 2 <= len(top.brief.insights) <= 3
    assert [g.source for g in top.brief.groups] == ["subheading"] * len(top.brief.groups)
    assert {g.heading for g in top.brief.groups} <= {h for h, _ in SECTIONED if h}
    for point in [*top.brief.insights, *(p for g in top.brief.groups for p in g.points)]:
        assert point.text in paragraphs[point.paragraph - 1]
    assert built.rendered is not None
    heading = top.brief.groups[0].heading
    assert "Core insights" in built.rendered.html and heading in built.rendered.html
    assert "Core insights" in built.rendered.text and heading in built.rendered.text
    again = build_issue(app, period)  # from the stored article: the same brief, no new fetch
    assert next(s for s in again.content.sections if s.id == "hot_topics").items[0] == top
    assert len([p for p, _ in feed_server.requests if p == "/article.html"]) == 1
