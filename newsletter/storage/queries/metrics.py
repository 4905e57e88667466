"""The numbers `/metrics` shows, read from the database at scrape time (the same for every
process that reads them: no per-process counters to add up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.domain.statuses import DeliveryStatus
from newsletter.storage.models import Delivery, Feed, Issue, Subscriber


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One feed's state as the last poll left it."""

    name: str
    last_status: str
    consecutive_failures: int
    enabled: bool  # in feeds.yaml and not disabled by polling
    last_success_at: datetime | None
    last_fetched_at: datetime | None


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Counts across all issues, at ``now``."""

    now: datetime
    deliveries: dict[str, int]  # by status, every status present (0 when none)
    queue_due: int  # queued and due now
    queue_deferred: int  # queued, waiting for a retry time
    queue_claimed: int  # held by a sender under a lease
    retried: int  # deliveries attempted more than once (4xx replies, outages)
    sent_recently: int  # sent within ``window`` before ``now``
    window_seconds: float
    last_sent_at: datetime | None
    subscribers: dict[str, int]  # by status
    issues: dict[str, int]  # by status
    feeds: tuple[FeedHealth, ...]


def metrics_snapshot(session: Session, now: datetime, window: timedelta) -> MetricsSnapshot:
    """A handful of aggregate queries; cheap enough to run at every scrape (indexed columns)."""
    deliveries = {str(s): 0 for s in DeliveryStatus}
    for status, count in session.exec(
        select(Delivery.status, func.count()).group_by(Delivery.status)
    ):
        deliveries[status] = count
    queued = col(Delivery.status) == DeliveryStatus.QUEUED
    due = sa.or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now)
    queue_due = session.exec(select(func.count()).where(queued, due)).one()
    queue_deferred = session.exec(select(func.count()).where(queued, sa.not_(due))).one()
    retried = session.exec(select(func.count()).where(col(Delivery.attempts) > 1)).one()
    sent = col(Delivery.status) == DeliveryStatus.SENT
    sent_recently = session.exec(
        select(func.count()).where(sent, col(Delivery.sent_at) > now - window)
    ).one()
    last_sent_at = session.exec(select(func.max(Delivery.sent_at)).where(sent)).one()
    subscribers = dict(
        session.exec(select(Subscriber.status, func.count()).group_by(Subscriber.status)).all()
    )
    issues = dict(session.exec(select(Issue.status, func.count()).group_by(Issue.status)).all())
    feeds = tuple(
        FeedHealth(
            name=f.name,
            last_status=f.last_status,
            consecutive_failures=f.consecutive_failures,
            enabled=f.enabled and f.auto_disabled_at is None,
            last_success_at=f.last_success_at,
            last_fetched_at=f.last_fetched_at,
        )
        for f in session.exec(select(Feed).order_by(Feed.name))
    )
    if isinstance(last_sent_at, datetime) and last_sent_at.tzinfo is None:
        last_sent_at = last_sent_at.replace(tzinfo=now.tzinfo)  # SQLite: stored as UTC
    return MetricsSnapshot(
        now=now,
        deliveries=deliveries,
        queue_due=queue_due,
        queue_deferred=queue_deferred,
        queue_claimed=deliveries[DeliveryStatus.SENDING],
        retried=retried,
        sent_recently=sent_recently,
        window_seconds=window.total_seconds(),
        last_sent_at=last_sent_at,
        subscribers=subscribers,
        issues=issues,
        feeds=feeds,
    )
