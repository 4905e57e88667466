"""When to poll a feed next, as pure arithmetic (adaptive polling, as Miniflux does).

A feed is polled as often as it posts: a week divided by the entries it published in the last
week, within the configured bounds (NEWSLETTER_POLL_MIN_MINUTES, NEWSLETTER_POLL_MAX_MINUTES).
What the publisher says wins over that guess when it asks for less: Cache-Control max-age
(RFC 9111 §5.2.2.1), else Expires (RFC 9111 §5.3), and RSS <ttl> (RSS 2.0: minutes a feed may
be cached) lengthen the interval, still capped by the maximum. Retry-After on a 429 or 503
(RFC 9110 §10.2.3) is obeyed even past the maximum: the server asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

WEEK = timedelta(days=7)
MAX_HINT = timedelta(days=30)  # a cache hint longer than this is read as this
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,12})\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$|=)", re.IGNORECASE)


@dataclass(frozen=True)
class PollBounds:
    """The configured limits of adaptive polling, and the interval when nothing is known."""

    minimum: timedelta
    maximum: timedelta
    default: timedelta

    def clamp(self, interval: timedelta) -> timedelta:
        """``interval`` within [minimum, maximum]."""
        return max(self.minimum, min(interval, self.maximum))


@dataclass(frozen=True)
class PollSignals:
    """What one poll learnt about when to come back (None: not said)."""

    weekly_entries: int | None = None  # entries published in the last 7 days, when parsed
    cache_max_age: timedelta | None = None  # Cache-Control max-age
    expires_in: timedelta | None = None  # Expires minus now
    ttl: timedelta | None = None  # RSS <ttl>
    retry_after: timedelta | None = None  # Retry-After on a 429 or 503


@dataclass(frozen=True)
class PollPlan:
    """When to poll next, and why (shown by `newsletter feeds`)."""

    next_poll_at: datetime
    interval: timedelta
    reason: str


def _minutes(delay: timedelta) -> str:
    minutes = delay.total_seconds() / 60
    if minutes < 120:
        return f"{minutes:g} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.3g} h"
    return f"{minutes / 1440:.3g} d"


def frequency_interval(weekly_entries: int | None, bounds: PollBounds) -> tuple[timedelta, str]:
    """The interval the feed's posting frequency asks for, and why: a week over the entries of
    the last week; the maximum for a feed silent for a week; the default when not known."""
    if weekly_entries is None:
        return bounds.default, "default interval; posting frequency not known yet"
    if weekly_entries <= 0:
        return bounds.maximum, "no entries in the last 7 days"
    return WEEK / weekly_entries, f"{weekly_entries} entries in the last 7 days"


def plan_next_poll(now: datetime, signals: PollSignals, bounds: PollBounds) -> PollPlan:
    """The next poll time of a feed after a poll at ``now`` that gave ``signals``."""
    interval, reason = frequency_interval(signals.weekly_entries, bounds)
    # RFC 9111 §5.3: with max-age present, Expires is ignored.
    cache = signals.cache_max_age if signals.cache_max_age is not None else signals.expires_in
    cache_name = "Cache-Control max-age" if signals.cache_max_age is not None else "Expires"
    hints = [(cache, cache_name), (signals.ttl, "RSS ttl")]
    for hint, name in hints:
        if hint is not None and min(hint, MAX_HINT) > interval:
            interval, reason = min(hint, MAX_HINT), f"{name} {_minutes(min(hint, MAX_HINT))}"
    clamped = bounds.clamp(interval)
    if clamped != interval:
        edge = "minimum" if interval < bounds.minimum else "maximum"
        reason = f"{reason}; held to the {edge} {_minutes(clamped)}"
        interval = clamped
    if signals.retry_after is not None and signals.retry_after > interval:
        interval, reason = signals.retry_after, f"Retry-After {_minutes(signals.retry_after)}"
    return PollPlan(now + interval, interval, reason)


def cache_max_age(value: str | None) -> timedelta | None:
    """Cache-Control's max-age as a delay; zero for no-cache or no-store; None when absent."""
    if not value:
        return None
    if _NO_CACHE.search(value):
        return timedelta(0)
    match = _MAX_AGE.search(value)
    if match is None:
        return None
    return min(timedelta(seconds=int(match.group(1))), MAX_HINT)


def expires_in(value: str | None, now: datetime) -> timedelta | None:
    """An Expires header as a delay from ``now`` (zero when past or unreadable: RFC 9111 §5.3
    reads an invalid date as already expired); None when absent."""
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return timedelta(0)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(timedelta(0), min(when - now, MAX_HINT))


def rss_ttl(value: str | None) -> timedelta | None:
    """RSS 2.0 <ttl> (whole minutes) as a delay; None when absent or not a number."""
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 9:
        return None
    return min(timedelta(minutes=int(text)), MAX_HINT)


def weekly_entries(published: Iterable[datetime | None], now: datetime) -> int:
    """How many of these publication times fall in the week before ``now`` (future ones count:
    a clock a little ahead is still a recent post)."""
    start = now - WEEK
    return sum(1 for when in published if when is not None and when >= start)
