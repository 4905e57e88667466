"""Per-issue statistics over a real sent issue, on SQLite and PostgreSQL: the tracked links of
the rendered email named by story title (view in browser and calendar links named as such),
clicks and unique clickers per story, bounces reported afterwards, unsubscribes, rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from newsletter.demo.server import FeedServer
from newsletter.domain.bounces import BounceEvent, BounceKind, BounceSource
from newsletter.domain.engagement import LinkKind
from newsletter.email.transports import FileTransport
from newsletter.service.app import App
from newsletter.service.bounces import record_events
from newsletter.service.clicks import ClickCounter, follow_link
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.stats import issue_report, recent_reports
from newsletter.service.subscribers import add_subscriber, remove_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.models import Link, Subscriber
from tests.helpers import STORIES, serve_stories

READERS = ("ana@example.com", "ben@example.com", "cy@example.com")


def sent_issue(
    make_app: Any, feed_server: FeedServer, tmp: Path, **settings: Any
) -> tuple[App, str]:
    """The test stories ingested and sent to three readers with the file transport."""
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC), due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)], **settings)
    assert ingest(app).new_items == len(STORIES)
    for email in READERS:
        add_subscriber(app, email)
    assert send_issue(app, period, FileTransport(tmp / "sent")).sent == len(READERS)
    return app, period.label


def tokens(app: App) -> tuple[dict[str, str], dict[str, str]]:
    """url -> link token of the issue's tracked links, and email -> subscriber token."""
    with session_scope(app.engine) as session:
        links = {link.url: link.token for link in session.exec(select(Link)).all()}
        readers = {s.email: s.token for s in session.exec(select(Subscriber)).all()}
    return links, readers


def click(app: App, link_token: str, reader_token: str | None) -> None:
    counter = ClickCounter(app.engine)
    target = follow_link(app, link_token, reader_token)
    assert target.click is not None
    counter.add(target.click)
    assert counter.flush()


def test_clicks_by_story_title_with_rates(
    make_app: Any, feed_server: FeedServer, tmp_path: Path
) -> None:
    app, period = sent_issue(make_app, feed_server, tmp_path, click_track_subscribers=True)
    links, readers = tokens(app)
    fda, acme = "https://example.com/s1", "https://example.com/s0"
    view = f"{app.settings.base_url}/archive/{period}"
    assert {fda, acme, view} <= set(links), sorted(links)
    ana, ben = readers["ana@example.com"], readers["ben@example.com"]
    for link, reader in ((fda, ana), (fda, ana), (fda, ben), (acme, ben), (view, ana)):
        click(app, links[link], reader)

    report = issue_report(app, period)
    assert (report.sent, report.bounced, report.delivered) == (3, 0, 3)
    assert report.clicks == 5 and report.unique_clickers == 2
    assert report.click_rate == 2 / 3
    top, second = report.stories[:2]
    assert (top.title, top.clicks, top.unique_clickers) == (STORIES[1][0], 3, 2)
    assert top.click_rate == 2 / 3
    assert (second.title, second.clicks, second.unique_clickers) == (STORIES[0][0], 1, 1)
    assert all(not s.title.startswith("http") for s in report.stories)
    # Links nobody clicked are listed with 0; the view-in-browser link is not a story.
    assert {s.title for s in report.stories} >= {title for title, _ in STORIES[:3]}
    viewed = [o for o in report.other_links if o.kind is LinkKind.VIEW_IN_BROWSER]
    assert [(o.label, o.clicks) for o in viewed] == [("View in browser", 1)]
    calendar = [o for o in report.other_links if o.kind is LinkKind.CALENDAR]
    assert calendar and all(o.label.startswith("Add to calendar") for o in calendar)
    assert report.story_clicks == 4

    # A bounce reported afterwards and an unsubscribe count against this issue.
    now = datetime.now(UTC)
    record_events(
        app,
        [BounceEvent("cy@example.com", BounceKind.HARD, BounceSource.DSN, "5.1.1", now, "dsn-1")],
        now,
    )
    assert remove_subscriber(app, "ben@example.com")
    later = issue_report(app, period)
    assert (later.bounced_later, later.bounced, later.delivered) == (1, 1, 2)
    assert later.unsubscribes == 1  # ben; a hard bounce is a bounce, not an unsubscribe
    assert later.click_rate == 1.0
    (overview,) = recent_reports(app)
    assert overview.period == period and overview.clicks == 5


def test_without_per_reader_tracking_rates_are_unknown(
    make_app: Any, feed_server: FeedServer, tmp_path: Path
) -> None:
    app, period = sent_issue(make_app, feed_server, tmp_path)
    links, _ = tokens(app)
    click(app, links["https://example.com/s1"], None)
    report = issue_report(app, period)
    assert report.clicks == 1 and report.unique_clickers is None and report.click_rate is None
    assert report.stories[0].title == STORIES[1][0]
    assert report.anonymous_clicks == 1


def test_recent_reports_oldest_first_and_only_issues_that_went_out(make_app: Any) -> None:
    from tests.web_helpers import add_issue

    app = make_app()
    sent = datetime.now(UTC) - timedelta(days=20)
    add_issue(app, "2026-W40", sent_at=sent)
    add_issue(app, "2026-W41", sent_at=sent + timedelta(days=7))
    add_issue(app, "2026-W42", status="draft")
    assert [r.period for r in recent_reports(app)] == ["2026-W40", "2026-W41"]
    assert [r.period for r in recent_reports(app, limit=1)] == ["2026-W41"]


def test_unsubscribes_go_to_the_issue_sent_before_them_special_issues_included(
    make_app: Any,
) -> None:
    """A special issue between two weeks takes the unsubscribes of its own days. The issues
    are ordered by when they went out: a ``special-…`` label sorts after every week's."""
    from tests.web_helpers import add_issue

    app = make_app()
    start = datetime.now(UTC) - timedelta(days=30)
    add_issue(app, "2026-W40", sent_at=start)
    add_issue(app, "special-2026-asco", sent_at=start + timedelta(days=3))
    add_issue(app, "2026-W41", sent_at=start + timedelta(days=7))
    left = {
        "w40@example.com": start + timedelta(days=1),
        "special1@example.com": start + timedelta(days=4),
        "special2@example.com": start + timedelta(days=6, hours=23),
        "w41@example.com": start + timedelta(days=8),
    }
    for email in left:
        add_subscriber(app, email)
    with session_scope(app.engine) as session:
        for subscriber in session.exec(select(Subscriber)).all():
            subscriber.status = "unsubscribed"
            subscriber.unsubscribed_at = left[subscriber.email]
            session.add(subscriber)
    assert issue_report(app, "2026-W40").unsubscribes == 1
    assert issue_report(app, "special-2026-asco").unsubscribes == 2
    assert issue_report(app, "2026-W41").unsubscribes == 1
    assert {r.period: r.unsubscribes for r in recent_reports(app)} == {
        "2026-W40": 1,
        "special-2026-asco": 2,
        "2026-W41": 1,
    }
