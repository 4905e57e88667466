"""Read-only views for people and tools: stored items with their sections, feed health."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from newsletter.domain.editorial.clusters import StoryInput, cluster_ids, financing_key
from newsletter.service.app import App
from newsletter.service.issues import classify_stored
from newsletter.storage import store
from newsletter.storage.db import session_scope


def list_items(
    app: App,
    since: datetime | None = None,
    until: datetime | None = None,
    section: str | None = None,
) -> list[dict[str, Any]]:
    """Every stored item (optionally in a time range or section), classified with current rules."""
    with session_scope(app.engine) as session:
        pairs = store.items_between(session, since, until)
        classify_stored(app, session, pairs)
        # Clusters among the listed items (the same story from several feeds).
        clusters = cluster_ids(
            [
                StoryInput(
                    item.id or 0, item.title, item.summary_text, item.url, financing_key(item.facts)
                )
                for item, _ in pairs
            ]
        )
        rows = []
        for item, feed in pairs:
            if section and item.section != section:
                continue
            rows.append(
                {
                    "id": item.id,
                    "feed": feed.name,
                    "title": item.title,
                    "link": item.url,
                    "published": item.published.isoformat(),
                    "published_source": item.published_source,
                    "first_seen": item.first_seen.isoformat(),
                    "language": item.language,
                    "section": item.section,
                    "section_reason": item.section_reason,
                    "summary": item.summary_text[:500],
                    "facts": item.facts or {},
                    "cluster": clusters.get(item.id or 0),
                }
            )
        return rows


def feed_health(app: App) -> list[dict[str, Any]]:
    """Each feed's status, last error, failures and item count; why it is disabled (by
    feeds.yaml or by polling: 410 Gone, too many failures), when it is next polled, and the
    permanent redirect it follows."""
    with session_scope(app.engine) as session:
        store.sync_feeds(session, app.config.feeds)
        counts = store.item_counts(session)
        return [
            {
                "name": f.name,
                "url": f.url,
                "enabled": f.enabled and f.auto_disabled_at is None,
                "status": f.last_status if f.enabled and not f.auto_disabled_at else "disabled",
                "last_http_status": f.last_http_status,
                "last_error": f.auto_disabled_reason or f.last_error or f.disabled_reason,
                "disabled_reason": f.auto_disabled_reason or f.disabled_reason,
                "consecutive_failures": f.consecutive_failures,
                "last_fetched_at": f.last_fetched_at.isoformat() if f.last_fetched_at else None,
                "last_success_at": f.last_success_at.isoformat() if f.last_success_at else None,
                "next_poll_at": f.next_poll_at.isoformat() if f.next_poll_at else None,
                "redirect_url": f.redirect_url,
                "redirect_candidate": f.redirect_candidate,
                "redirect_count": f.redirect_count,
                "items": counts.get(f.id or 0, 0),
            }
            for f in store.all_feeds(session)
        ]
