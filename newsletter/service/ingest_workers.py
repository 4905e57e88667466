"""`newsletter ingest-worker`: claim feeds due for polling, poll them, give them back.

Any number of workers, on any number of machines sharing one PostgreSQL database, take due
feeds in batches with a lease (storage.queries.feed_claims: FOR UPDATE SKIP LOCKED), renewed
by a heartbeat while the batch is polled. A polled feed gets its next poll time (adaptive
polling, service.poll_schedule) in the same transaction as its items, so no other worker
polls it again before then; a dead worker's feeds are taken again once its lease runs out.
On SQLite a worker works too, for one machine: the database holds one writer at a time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from newsletter.errors import DatabaseUnavailableError
from newsletter.feeds.fetch import FetchLimits, make_client
from newsletter.service.app import App
from newsletter.service.delivery import worker_name
from newsletter.service.ingest import DUE_SLACK, PollStop, Progress, feed_job, poll_jobs
from newsletter.service.parsing import parse_pool
from newsletter.service.reading import checked_model, model_path
from newsletter.storage.db import SQLAlchemyError, session_scope
from newsletter.storage.queries import feed_claims, feeds

log = logging.getLogger("newsletter.ingest_worker")

OUTAGE_WAIT_SECONDS = 10.0  # the least wait after the database failed


@dataclass
class IngestWorkerReport:
    """What one ingest worker did before it stopped."""

    worker: str
    batches: int = 0
    polled: int = 0
    failed: int = 0
    new_items: int = 0


@contextmanager
def _heartbeat(app: App, worker: str, ids: Sequence[int], lease: timedelta) -> Iterator[None]:
    """Renew the lease on ``ids`` every third of the lease while the block runs."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(lease.total_seconds() / 3):
            try:
                with session_scope(app.engine) as session:
                    held = feed_claims.renew_feed_leases(
                        session, worker, ids, datetime.now(UTC) + lease
                    )
            except (
                SQLAlchemyError,
                DatabaseUnavailableError,
            ) as exc:  # the next beat tries again; the lease has slack
                log.warning("renewing feed leases failed: %s", exc)
                continue
            if len(held) < len(ids):
                log.warning(
                    "%d feed lease(s) ran out and were taken by another worker; that worker "
                    "polls them too (raise NEWSLETTER_INGEST_LEASE_SECONDS if polls stall)",
                    len(ids) - len(held),
                )

    thread = threading.Thread(target=beat, name="feed-lease-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _release(app: App, worker: str, ids: Sequence[int]) -> None:
    try:
        with session_scope(app.engine) as session:
            feed_claims.release_feeds(session, worker, ids)
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:  # the leases run out on their own
        log.warning("giving back %d feed(s) failed (their lease will run out): %s", len(ids), exc)


def poll_claimed_batch(
    app: App,
    worker: str,
    *,
    client: httpx.Client,
    parsers: Executor,
    now: datetime | None = None,
    progress: Progress | None = None,
    due_slack: timedelta = timedelta(0),
    stop: PollStop | None = None,
) -> tuple[int, int, int] | None:
    """Claim one batch of due feeds (due within ``due_slack``), poll it and give it back.
    Returns (polled, failed, new items), or None when no feed was due. ``stop``: once
    requested, no new request of the batch starts; the feeds not polled are given back as they
    were (still due)."""
    settings = app.settings
    now = now or datetime.now(UTC)
    lease = timedelta(seconds=settings.ingest_lease_seconds)
    configs = app.feeds_by_name
    with session_scope(app.engine) as session:
        ids = feed_claims.claim_due_feeds(
            session, now, now + lease, worker, settings.ingest_batch, due_by=now + due_slack
        )
    if not ids:
        return None
    try:
        with session_scope(app.engine) as session:
            rows = feed_claims.claimed_feeds(session, worker, ids)
            jobs = [feed_job(app, f, configs.get(f.name)) for f in rows]
        with _heartbeat(app, worker, ids, lease):
            report = poll_jobs(
                app, jobs, client=client, now=now, progress=progress, parsers=parsers, stop=stop
            )
    finally:
        _release(app, worker, ids)
    return len(report.outcomes), len(report.failed), report.new_items


def run_ingest_worker(
    app: App,
    stop: threading.Event,
    *,
    once: bool = False,
    idle_seconds: float = 5.0,
    client: httpx.Client | None = None,
    progress: Progress | None = None,
    due_slack: timedelta = timedelta(0),
) -> IngestWorkerReport:
    """Poll due feeds batch after batch until ``stop`` is set (with ``once``: until no feed is
    due). A stop request starts no new request: the batch's requests in flight finish (at
    most about one fetch's time limit), the feeds that answered are stored, and every claim is
    given back (the feeds not polled are still due)."""
    settings = app.settings
    report = IngestWorkerReport(worker_name())
    path = model_path(app)
    if path is not None:
        checked_model(path)  # a damaged model is one error, before any feed is claimed
    with session_scope(app.engine) as session:
        feeds.sync_feed_table(session, app.config.feeds)
    limits = FetchLimits(
        settings.fetch_timeout, settings.fetch_max_bytes, settings.allow_private_addresses
    )
    http = client or make_client(limits, max_connections=settings.fetch_concurrency)
    parsers: Executor
    if settings.parse_workers <= 1:
        parsers = ThreadPoolExecutor(max_workers=1)
    else:
        parsers = parse_pool(settings.parse_workers)
    try:
        while not stop.is_set():
            try:
                done = poll_claimed_batch(
                    app,
                    report.worker,
                    client=http,
                    parsers=parsers,
                    progress=progress,
                    due_slack=due_slack,
                    stop=PollStop(stop),
                )
            except (SQLAlchemyError, DatabaseUnavailableError) as exc:
                if once:
                    raise
                log.error("database unavailable, waiting: %s", exc)
                stop.wait(max(idle_seconds, OUTAGE_WAIT_SECONDS))
                continue
            if done is None:
                if once:
                    break
                stop.wait(idle_seconds)
                continue
            polled, failed, new_items = done
            report.batches += 1
            report.polled += polled
            report.failed += failed
            report.new_items += new_items
            log.info("polled %d feed(s): %d failed, %d new items", polled, failed, new_items)
    finally:
        parsers.shutdown(wait=True, cancel_futures=True)
        if client is None:
            http.close()
    return report


def poll_due_feeds(app: App, stop: threading.Event | None = None) -> IngestWorkerReport:
    """One pass over the feeds due now (or within DUE_SLACK), claimed like a worker does: what
    `newsletter run` polls on its schedule, so it never polls a feed an ingest worker holds or
    has just polled. ``stop``: the poll ends early once it is set (see run_ingest_worker)."""
    return run_ingest_worker(
        app, stop if stop is not None else threading.Event(), once=True, due_slack=DUE_SLACK
    )
