"""Each feed's next poll time after a poll (adaptive polling): signals in, plan on the feed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from newsletter.config import Settings
from newsletter.domain.polling import (
    PollBounds,
    PollPlan,
    PollSignals,
    cache_max_age,
    expires_in,
    plan_next_poll,
    rss_ttl,
    weekly_entries,
)
from newsletter.feeds.fetch import FetchResult

if TYPE_CHECKING:
    from newsletter.storage.models import Feed  # not imported by a poll of unchanged feeds


def poll_bounds(settings: Settings) -> PollBounds:
    """NEWSLETTER_POLL_MIN_MINUTES and _MAX_MINUTES, and NEWSLETTER_POLL_MINUTES as the
    interval of a feed whose posting frequency is not known yet (within the bounds)."""
    minimum = timedelta(minutes=settings.poll_min_minutes)
    maximum = timedelta(minutes=settings.poll_max_minutes)
    default = max(minimum, min(timedelta(minutes=settings.poll_minutes), maximum))
    return PollBounds(minimum, maximum, default)


def schedule_feed(
    feed: Feed,
    settings: Settings,
    now: datetime,
    *,
    result: FetchResult | None = None,
    rows: Iterable[Mapping[str, Any]] | None = None,
    ttl: str | None = None,
    retry_after: timedelta | None = None,
) -> PollPlan:
    """Set the feed's next poll time and its reason after a poll at ``now``.

    ``rows`` are the item rows of a parsed body (their feed-given dates give the posting
    frequency, kept on the feed for polls that answer 304); ``result`` carries the cache
    headers; ``retry_after`` is a 429/503's Retry-After."""
    if rows is not None:
        feed.weekly_entries = weekly_entries(
            (r["published"] for r in rows if r.get("published_source") == "feed"), now
        )
    plan = plan_poll(
        feed.weekly_entries, settings, now, result=result, ttl=ttl, retry_after=retry_after
    )
    feed.poll_due_at = plan.next_poll_at
    feed.poll_reason = plan.reason[:300]
    return plan


def plan_poll(
    weekly: int | None,
    settings: Settings,
    now: datetime,
    *,
    result: FetchResult | None = None,
    ttl: str | None = None,
    retry_after: timedelta | None = None,
) -> PollPlan:
    """The next poll of a feed that posts ``weekly`` entries a week (None: not known), without
    touching a row: what ``schedule_feed`` sets, and what the batched 304 update writes."""
    signals = PollSignals(
        weekly_entries=weekly,
        cache_max_age=cache_max_age(result.cache_control) if result else None,
        expires_in=expires_in(result.expires, now) if result else None,
        ttl=rss_ttl(ttl),
        retry_after=retry_after,
    )
    return plan_next_poll(now, signals, poll_bounds(settings))
