"""Read-only views for people and tools: stored items with their sections, feed health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsletter.domain.editorial.clusters import cluster_ids, story_input
from newsletter.service.app import App
from newsletter.service.issues import classify_stored
from newsletter.storage.db import session_scope
from newsletter.storage.queries import feeds, items


@dataclass(frozen=True, slots=True)
class StoredItem:
    """One stored item as `newsletter items list` shows it (times as ISO 8601 strings)."""

    id: int | None
    feed: str
    title: str
    link: str | None
    published: str
    published_source: str
    first_seen: str
    language: str
    section: str | None  # None: left out (section_reason says why)
    section_reason: str | None
    summary: str
    facts: dict[str, Any]
    cluster: str | None
    relevant: bool
    relevance: float | None  # the relevance model's score, 0-1 (None: no model)
    suggested_section: str | None  # the section it has, or would have had if relevant
    date_unknown: bool  # the feed gave no readable date: published is when it was first seen


def list_items(
    app: App,
    since: datetime | None = None,
    until: datetime | None = None,
    section: str | None = None,
    left_out: bool | None = None,
) -> list[StoredItem]:
    """Every stored item (optionally in a time range or section; only left-out or only relevant
    ones), read with the current rules and model."""
    with session_scope(app.engine) as session:
        pairs = items.items_between(session, since, until)
        classify_stored(app, session, pairs)
        # Clusters among the listed items (the same story from several feeds).
        clusters = cluster_ids(
            [
                story_input(item.id or 0, item.title, item.summary_text, item.url, item.facts)
                for item, _ in pairs
            ]
        )
        rows = []
        for item, feed in pairs:
            if section and item.section != section:
                continue
            if left_out is not None and (item.section is None) != left_out:
                continue
            rows.append(
                StoredItem(
                    id=item.id,
                    feed=feed.name,
                    title=item.title,
                    link=item.url,
                    published=item.published.isoformat(),
                    published_source=item.published_source,
                    first_seen=item.first_seen.isoformat(),
                    language=item.language,
                    section=item.section,
                    section_reason=item.section_reason,
                    summary=item.summary_text[:500],
                    facts=item.facts or {},
                    cluster=clusters.get(item.id or 0),
                    relevant=item.section is not None,
                    relevance=item.relevance,
                    suggested_section=item.suggested_section,
                    date_unknown=item.published_source == "first_seen",
                )
            )
        return rows


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed's health as `newsletter feeds` shows it (times as ISO 8601 strings)."""

    name: str
    url: str
    enabled: bool
    status: str  # the feed's last status (never, ok, not_modified, error), or disabled
    last_http_status: int | None
    last_error: str | None
    disabled_reason: str | None
    consecutive_failures: int
    last_fetched_at: str | None
    last_success_at: str | None
    next_poll_at: str | None
    redirect_url: str | None
    redirect_candidate: str | None
    redirect_count: int
    items: int
    poll_due_at: str | None = None  # adaptive polling: when the feed is due again
    poll_reason: str | None = None  # why then (posting frequency, cache hints, bounds)
    lease_owner: str | None = None  # the ingest worker polling it now, if any

    @property
    def next_poll(self) -> str | None:
        """When the feed is polled next: the later of its adaptive time and its back-off."""
        times = [t for t in (self.poll_due_at, self.next_poll_at) if t]
        return max(times) if times else None


def feed_health(app: App) -> list[FeedHealth]:
    """Each feed's status, last error, failures and item count; why it is disabled (by
    feeds.yaml or by polling: 410 Gone, too many failures), when it is next polled, and the
    permanent redirect it follows."""
    with session_scope(app.engine) as session:
        feeds.sync_feed_table(session, app.config.feeds)
        counts = items.item_counts(session)
        return [
            FeedHealth(
                name=f.name,
                url=f.url,
                enabled=f.enabled and f.auto_disabled_at is None,
                status=f.last_status if f.enabled and not f.auto_disabled_at else "disabled",
                last_http_status=f.last_http_status,
                last_error=f.auto_disabled_reason or f.last_error or f.disabled_reason,
                disabled_reason=f.auto_disabled_reason or f.disabled_reason,
                consecutive_failures=f.consecutive_failures,
                last_fetched_at=f.last_fetched_at.isoformat() if f.last_fetched_at else None,
                last_success_at=f.last_success_at.isoformat() if f.last_success_at else None,
                next_poll_at=f.next_poll_at.isoformat() if f.next_poll_at else None,
                redirect_url=f.redirect_url,
                redirect_candidate=f.redirect_candidate,
                redirect_count=f.redirect_count,
                items=counts.get(f.id or 0, 0),
                poll_due_at=f.poll_due_at.isoformat() if f.poll_due_at else None,
                poll_reason=f.poll_reason,
                lease_owner=f.lease_owner
                if f.lease_until is not None and f.lease_until > datetime.now(UTC)
                else None,
            )
            for f in feeds.all_feeds(session)
        ]
