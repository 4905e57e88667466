"""Per-issue statistics for editors: sends, bounces, unsubscribes, and clicks by story title
with click rates (unique clickers / delivered), for one issue and for the latest ones.

Delivered is what the relay accepted (deliveries sent) less the bounces reported afterwards
(bounce mailbox, webhooks) that occurred before the next issue went out. Unique clickers are
known only for clicks that name their reader (NEWSLETTER_CLICK_TRACK_SUBSCRIBERS); without
them the rates are shown as unknown, never estimated from raw clicks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from newsletter.domain.engagement import (
    LinkCount,
    LinkKind,
    LinkLabel,
    OtherClicks,
    SiteLink,
    StoryClicks,
    classify_link,
    clicks_by_story,
    rate,
    story_links,
    story_sections,
)
from newsletter.email.urls import archive_url, event_ics_url, subscribe_url
from newsletter.service.app import App
from newsletter.service.archive import DELIVERY_STATUSES, IssueNotFoundError, is_period
from newsletter.storage.db import Session, available_session
from newsletter.storage.models import Issue
from newsletter.storage.queries import audience, deliveries, issues, links, subscribers
from newsletter.storage.queries.links import DayClicks

RECENT_ISSUES = 12  # issues in the overview and its chart


@dataclass(frozen=True)
class IssueReport:
    """What one issue did: its deliveries, bounces, unsubscribes and clicks by story."""

    period: str
    subject: str
    status: str
    sent_at: datetime | None
    deliveries: dict[str, int]  # by delivery status: sent, failed, bounced, skipped, queued, ...
    bounced_later: int  # hard and soft bounces reported after the send, before the next issue
    complaints: int
    unsubscribes: int  # from when it went out until the next issue did
    clicks: int
    unique_clickers: int | None  # None: no click names its reader (tracking per reader is off)
    anonymous_clicks: int  # clicks that name no reader (counted, not in unique clickers)
    stories: list[StoryClicks] = field(default_factory=list)
    other_links: list[OtherClicks] = field(default_factory=list)
    clicks_by_day: list[DayClicks] = field(default_factory=list)

    @property
    def sent(self) -> int:
        """Messages the relay accepted."""
        return self.deliveries.get("sent", 0)

    @property
    def bounced(self) -> int:
        """Bounces: refused by the relay during the send, plus reported afterwards."""
        return self.deliveries.get("bounced", 0) + self.bounced_later

    @property
    def delivered(self) -> int:
        """Accepted by the relay and not reported as bounced afterwards."""
        return max(self.sent - self.bounced_later, 0)

    @property
    def click_rate(self) -> float | None:
        """Unique clickers (any tracked link) / delivered; None when unknown."""
        return rate(self.unique_clickers, self.delivered)

    @property
    def unsubscribe_rate(self) -> float | None:
        """Unsubscribes / delivered."""
        return rate(self.unsubscribes, self.delivered)

    @property
    def story_clicks(self) -> int:
        """Clicks on the stories' links (not the newsletter's own links)."""
        return sum(story.clicks for story in self.stories)


def site_links(base_url: str, period: str) -> list[SiteLink]:
    """The newsletter's own pages that an issue links to, by URL prefix."""
    base = base_url.rstrip("/")
    return [
        SiteLink(archive_url(base, period) + "/events", LinkKind.CALENDAR, "Add to calendar"),
        SiteLink(archive_url(base), LinkKind.VIEW_IN_BROWSER, "View in browser"),
        SiteLink(f"{base}/unsubscribe", LinkKind.UNSUBSCRIBE, "Unsubscribe"),
        SiteLink(f"{base}/preferences", LinkKind.PREFERENCES, "Choose sections and language"),
        SiteLink(subscribe_url(base), LinkKind.SUBSCRIBE, "Subscribe page"),
    ]


def _calendar_links(base_url: str, period: str, content: dict[str, object]) -> dict[str, LinkLabel]:
    titles = {label.item_id: label.label for label in story_links(content).values()}
    return {
        event_ics_url(base_url.rstrip("/"), period, item_id): LinkLabel(
            LinkKind.CALENDAR, f"Add to calendar (.ics): {title}", item_id
        )
        for item_id, title in titles.items()
        if item_id is not None
    }


def _report(app: App, session: Session, issue: Issue) -> IssueReport:
    assert issue.id is not None
    counts: dict[str, int] = {str(status): 0 for status in DELIVERY_STATUSES}
    for status, count in deliveries.delivery_counts(session, issue.id).to_dict().items():
        counts[status] = counts.get(status, 0) + count
    start = issue.frozen_at or issue.sent_at
    unsubscribes, later = 0, {}
    if start is not None:
        # Until the next issue went out, special or weekly: later unsubscribes are its.
        following = issues.next_frozen_after(session, start, issue.id)
        unsubscribes = subscribers.unsubscribed_between(session, start, following)
        later = audience.reported_bounces_between(session, start, following)
    content = issue.content or {}
    stories = story_links(content)
    calendar = _calendar_links(app.settings.base_url, issue.period, content)
    site = site_links(app.settings.base_url, issue.period)
    rows = [LinkCount(i, u, n) for i, u, n in audience.link_clicks(session, issue.id)]
    labels = {row.link_id: classify_link(row.url, stories, site, calendar) for row in rows}
    named, anonymous = audience.click_people(session, issue.id)
    pairs = audience.clicker_pairs(session, issue.id) if named else None
    bounced_later = later.get("hard", 0) + later.get("soft", 0)
    delivered = max(counts.get("sent", 0) - bounced_later, 0)
    story_rows, other_rows = clicks_by_story(
        rows, labels, story_sections(content), pairs, delivered
    )
    return IssueReport(
        period=issue.period,
        subject=issue.subject,
        status=issue.status,
        sent_at=issue.sent_at or issue.frozen_at,
        deliveries=counts,
        bounced_later=bounced_later,
        complaints=later.get("complaint", 0),
        unsubscribes=unsubscribes,
        clicks=sum(row.clicks for row in rows),
        unique_clickers=named if named else None,
        anonymous_clicks=anonymous,
        stories=story_rows,
        other_links=other_rows,
        clicks_by_day=links.clicks_by_day(session, issue.id),
    )


def issue_report(app: App, period: str) -> IssueReport:
    """The statistics of one issue (of any status). IssueNotFoundError."""
    if not is_period(period):
        raise IssueNotFoundError(f"{period[:20]!r} is not an issue period like 2026-W47")
    with available_session(app.engine) as session:
        issue = issues.get_issue(session, period)
        if issue is None or issue.id is None:
            raise IssueNotFoundError(f"no issue {period}")
        return _report(app, session, issue)


def recent_reports(app: App, limit: int = RECENT_ISSUES) -> list[IssueReport]:
    """The statistics of the latest issues that went out, oldest first (as a chart reads)."""
    with available_session(app.engine) as session:
        found = audience.frozen_issues(session, limit)
        return [_report(app, session, issue) for issue in reversed(found)]


__all__ = ["RECENT_ISSUES", "IssueReport", "issue_report", "recent_reports", "site_links"]
