"""Prometheus metrics: the database's numbers (deliveries, queue, bounces, subscribers, feed
health) collected at scrape time, and this process's own ingest durations.

Every `serve` worker process reads the same database, so each scrape answers the same whatever
worker takes it; nothing has to be added up across processes. Ingest durations are measured by
the process that polls (`newsletter run`, `newsletter ingest`), which serves them itself with
`newsletter run --metrics-port` (docs/operators-guide.md#metrics).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

from prometheus_client import CollectorRegistry, Histogram, generate_latest, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from newsletter.domain.statuses import FeedStatus
from newsletter.errors import DatabaseUnavailableError
from newsletter.service.app import App
from newsletter.storage.db import SQLAlchemyError, session_scope
from newsletter.storage.queries.metrics import MetricsSnapshot, metrics_snapshot

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
SEND_RATE_WINDOW: Final = timedelta(minutes=5)

# This process's own measurements (the polling process serves them with --metrics-port).
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
INGEST_SECONDS = Histogram(
    "newsletter_ingest_duration_seconds",
    "Seconds one poll of every due feed took (fetch, parse, store), in this process.",
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
    registry=PROCESS_REGISTRY,
)
INGEST_FEED_SECONDS = Histogram(
    "newsletter_ingest_feed_seconds",
    "Mean seconds per feed of one poll (the poll's duration over the feeds it polled).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=PROCESS_REGISTRY,
)


def observe_ingest(seconds: float, feeds: int) -> None:
    """Record one poll's duration (and its mean per feed) for this process's metrics."""
    INGEST_SECONDS.observe(seconds)
    if feeds > 0:
        INGEST_FEED_SECONDS.observe(seconds / feeds)


def serve_process_metrics(port: int, host: str = "127.0.0.1") -> None:
    """Serve this process's metrics (ingest durations) over HTTP on ``host:port``, in a
    background thread, at any path. Raises OSError when the port cannot be bound."""
    start_http_server(port, addr=host, registry=PROCESS_REGISTRY)


def _timestamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else math.nan


def snapshot_metrics(snap: MetricsSnapshot) -> Iterator[Metric]:
    """The metric families for one snapshot of the database (pure: no I/O)."""
    deliveries = GaugeMetricFamily(
        "newsletter_deliveries",
        "Deliveries (one per subscriber and issue) by status, across all issues.",
        labels=["status"],
    )
    for status, count in sorted(snap.deliveries.items()):
        deliveries.add_metric([status], count)
    yield deliveries
    queue = GaugeMetricFamily(
        "newsletter_delivery_queue_depth",
        "Deliveries not yet done: due now, deferred to a retry time, or claimed by a sender.",
        labels=["state"],
    )
    queue.add_metric(["due"], snap.queue_due)
    queue.add_metric(["deferred"], snap.queue_deferred)
    queue.add_metric(["claimed"], snap.queue_claimed)
    yield queue
    yield GaugeMetricFamily(
        "newsletter_send_rate_per_second",
        f"Messages accepted by the relay per second over the last "
        f"{int(snap.window_seconds)} seconds (all senders).",
        value=snap.sent_recently / snap.window_seconds,
    )
    yield GaugeMetricFamily(
        "newsletter_last_sent_timestamp_seconds",
        "When the last message was accepted by the relay (Unix time; NaN: never).",
        value=_timestamp(snap.last_sent_at),
    )
    errors = GaugeMetricFamily(
        "newsletter_delivery_errors",
        "Deliveries that did not go through at once: failed for good, bounced (5xx for the "
        "address), or tried more than once (4xx replies, outages).",
        labels=["kind"],
    )
    errors.add_metric(["failed"], snap.deliveries.get("failed", 0))
    errors.add_metric(["bounced"], snap.deliveries.get("bounced", 0))
    errors.add_metric(["retried"], snap.retried)
    yield errors
    yield GaugeMetricFamily(
        "newsletter_bounces",
        "Deliveries refused for the address (hard bounces), across all issues.",
        value=snap.deliveries.get("bounced", 0),
    )
    subscribers = GaugeMetricFamily(
        "newsletter_subscribers", "Subscribers by status.", labels=["status"]
    )
    for status, count in sorted(snap.subscribers.items()):
        subscribers.add_metric([status], count)
    yield subscribers
    issues = GaugeMetricFamily("newsletter_issues", "Issues by status.", labels=["status"])
    for status, count in sorted(snap.issues.items()):
        issues.add_metric([status], count)
    yield issues
    yield from _feed_metrics(snap)


def _feed_metrics(snap: MetricsSnapshot) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        "newsletter_feeds",
        "Feeds by the result of their last poll (ok, not_modified, error, never) and whether "
        "they are polled (disabled: off in feeds.yaml or by too many failures).",
        labels=["status", "enabled"],
    )
    counts: dict[tuple[str, str], int] = {}
    for feed in snap.feeds:
        key = (feed.last_status, "true" if feed.enabled else "false")
        counts[key] = counts.get(key, 0) + 1
    for (status, enabled), count in sorted(counts.items()):
        by_status.add_metric([status, enabled], count)
    yield by_status
    up = GaugeMetricFamily(
        "newsletter_feed_up",
        "1 when the feed's last poll worked (ok or not modified), 0 when it failed, NaN when "
        "never polled.",
        labels=["feed"],
    )
    failures = GaugeMetricFamily(
        "newsletter_feed_consecutive_failures",
        "Failed polls in a row (the feed is disabled at NEWSLETTER_FEED_DISABLE_AFTER).",
        labels=["feed"],
    )
    success = GaugeMetricFamily(
        "newsletter_feed_last_success_timestamp_seconds",
        "When the feed was last fetched successfully (Unix time; NaN: never).",
        labels=["feed"],
    )
    for feed in snap.feeds:
        if feed.last_status == FeedStatus.NEVER:
            value = math.nan
        else:
            value = 0.0 if feed.last_status == FeedStatus.ERROR else 1.0
        up.add_metric([feed.name], value)
        failures.add_metric([feed.name], feed.consecutive_failures)
        success.add_metric([feed.name], _timestamp(feed.last_success_at))
    yield up
    yield failures
    yield success


class DatabaseCollector(Collector):
    """Reads the database at every scrape. A database that does not answer gives
    ``newsletter_database_up 0`` and no other numbers, never an error page."""

    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        now = datetime.now(UTC)
        try:
            with session_scope(self.app.engine) as session:
                snap = metrics_snapshot(session, now, SEND_RATE_WINDOW)
        except (SQLAlchemyError, DatabaseUnavailableError):
            snap = None
        yield GaugeMetricFamily(
            "newsletter_database_up",
            "1 when the database answered this scrape.",
            value=0 if snap is None else 1,
        )
        if snap is not None:
            yield from snapshot_metrics(snap)
        yield GaugeMetricFamily(
            "newsletter_metrics_scrape_seconds",
            "Seconds the database queries of this scrape took.",
            value=time.perf_counter() - started,
        )


def database_metrics(app: App) -> bytes:
    """The Prometheus text exposition of the database's numbers, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(app))
    return generate_latest(registry)
