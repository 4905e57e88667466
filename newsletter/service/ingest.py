"""Poll every enabled feed: fetch concurrently, parse on all cores, store idempotently."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import (
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError

from newsletter import store
from newsletter.db import session_scope
from newsletter.errors import FeedError
from newsletter.fetch import FetchLimits, FetchResult, Validators, fetch_feed, make_client
from newsletter.models import Feed
from newsletter.parse import ParsedFeed, parse_feed
from newsletter.service.app import App
from newsletter.service.reading import read

log = logging.getLogger(__name__)
INLINE_PARSE_BELOW = 4  # fewer bodies than this are parsed in-process (no pool start-up cost)


@dataclass(frozen=True)
class FeedJob:
    """A detached copy of what fetching one feed needs."""

    id: int
    name: str
    url: str
    section: str
    language: str
    encoding: str | None
    validators: Validators
    body_hash: str | None


@dataclass
class FeedOutcome:
    """What happened to one feed in this poll."""

    name: str
    status: str  # ok, not_modified, unchanged, error
    new_items: int = 0
    entries: int = 0
    error: str | None = None
    warning: str | None = None


@dataclass
class IngestReport:
    """The outcome of one poll of every enabled feed."""

    outcomes: list[FeedOutcome] = field(default_factory=list)

    @property
    def new_items(self) -> int:
        """Items stored by this poll."""
        return sum(o.new_items for o in self.outcomes)

    @property
    def failed(self) -> list[FeedOutcome]:
        """Feeds that failed."""
        return [o for o in self.outcomes if o.status == "error"]


Progress = Callable[[FeedOutcome], None]


def _parse_job(
    body: bytes,
    url: str,
    content_type: str | None,
    encoding: str | None,
    language: str,
    now: datetime,
) -> ParsedFeed:
    return parse_feed(
        body, url=url, content_type=content_type, encoding=encoding, language=language, now=now
    )


def _pool(workers: int) -> Executor:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["newsletter.parse"])
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _item_rows(app: App, job: FeedJob, parsed: ParsedFeed, now: datetime) -> list[dict[str, Any]]:
    rows = []
    for entry in parsed.entries:
        published = entry.published or now
        reading = read(
            app, entry.title, entry.summary_text, job.language, published, job.name, job.section
        )
        rows.append(
            {
                "feed_id": job.id,
                "key": entry.key,
                "url": entry.url,
                "title": entry.title,
                "summary_html": entry.summary_html,
                "summary_text": entry.summary_text,
                "author": entry.author,
                "published": published,
                "published_source": "feed" if entry.published else "first_seen",
                "first_seen": now,
                "language": job.language,
                "section": reading.section,
                "section_reason": reading.reason,
                "facts": reading.facts,
                "cluster": None,
                "content_hash": entry.content_hash,
            }
        )
    return rows


def _record(
    app: App,
    job: FeedJob,
    outcome: FeedOutcome,
    result: FetchResult | None,
    rows: list[dict[str, Any]],
    body_hash: str | None,
    now: datetime,
) -> None:
    """Store one feed's items and state in one transaction."""
    with session_scope(app.engine) as session:
        feed = session.get(Feed, job.id)
        assert feed is not None
        feed.last_fetched_at = now
        if outcome.status == "error":
            feed.last_status = "error"
            feed.last_error = (outcome.error or "")[:2000]
            feed.consecutive_failures += 1
        else:
            outcome.new_items = store.insert_items(session, rows)
            feed.last_status = outcome.status if outcome.status != "unchanged" else "not_modified"
            feed.last_error = outcome.warning[:2000] if outcome.warning else None
            feed.consecutive_failures = 0
            feed.last_success_at = now
            if result is not None:
                feed.last_http_status = result.status
                if result.status == 200:
                    feed.etag = result.validators.etag
                    feed.last_modified = result.validators.last_modified
            if body_hash:
                feed.body_hash = body_hash
        session.add(feed)


def ingest(
    app: App,
    *,
    client: httpx.Client | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    only: set[str] | None = None,
) -> IngestReport:
    """Poll every enabled feed once. One failing feed is recorded and never stops the others."""
    now = now or datetime.now(UTC)
    settings = app.settings
    with session_scope(app.engine) as session:
        feeds = store.sync_feeds(session, app.config.feeds)
        jobs = [
            FeedJob(
                f.id or 0,
                f.name,
                f.url,
                f.section,
                f.language,
                f.encoding,
                Validators(f.etag, f.last_modified),
                f.body_hash,
            )
            for f in feeds.values()
            if f.enabled and (only is None or f.name in only)
        ]
    limits = FetchLimits(
        settings.fetch_timeout, settings.fetch_max_bytes, settings.allow_private_addresses
    )
    own_client = client is None
    http = client or make_client(limits, max_connections=settings.fetch_concurrency)
    report = IngestReport()

    def done(
        job: FeedJob,
        outcome: FeedOutcome,
        result: FetchResult | None = None,
        rows: list[dict[str, Any]] | None = None,
        body_hash: str | None = None,
    ) -> None:
        try:
            _record(app, job, outcome, result, rows or [], body_hash, now)
        except SQLAlchemyError as exc:  # the database said no: report this feed, keep going
            log.exception("storing feed %s failed", job.name)
            outcome.status, outcome.error = "error", f"storing items failed: {exc}"
        report.outcomes.append(outcome)
        if outcome.status == "error":
            log.warning("feed %r failed: %s", job.name, outcome.error)
        if progress:
            progress(outcome)

    fetched: list[tuple[FeedJob, FetchResult, str]] = []
    try:
        with ThreadPoolExecutor(
            max_workers=settings.fetch_concurrency, thread_name_prefix="fetch"
        ) as pool:
            futures = {
                pool.submit(fetch_feed, http, job.url, job.validators, limits): job for job in jobs
            }
            for future in as_completed(futures):
                job = futures[future]
                try:
                    result = future.result()
                except FeedError as exc:
                    done(job, FeedOutcome(job.name, "error", error=str(exc)))
                    continue
                if result.not_modified:
                    done(job, FeedOutcome(job.name, "not_modified"), result)
                    continue
                assert result.body is not None
                digest = hashlib.sha256(result.body).hexdigest()
                if digest == job.body_hash:
                    done(job, FeedOutcome(job.name, "unchanged"), result)
                    continue
                fetched.append((job, result, digest))
    finally:
        if own_client:
            http.close()

    parse_pool: Executor
    if len(fetched) < INLINE_PARSE_BELOW or settings.parse_workers <= 1:
        parse_pool = ThreadPoolExecutor(max_workers=1)
    else:
        parse_pool = _pool(min(settings.parse_workers, len(fetched)))
    with parse_pool:
        parse_futures: dict[Future[ParsedFeed], tuple[FeedJob, FetchResult, str]] = {
            parse_pool.submit(
                _parse_job,
                result.body or b"",
                result.url,
                result.content_type,
                job.encoding,
                job.language,
                now,
            ): (job, result, digest)
            for job, result, digest in fetched
        }
        for parsing in as_completed(parse_futures):
            job, result, digest = parse_futures[parsing]
            try:
                parsed = parsing.result()
            except FeedError as exc:
                done(job, FeedOutcome(job.name, "error", error=str(exc)))
                continue
            except BrokenProcessPool:
                # A worker died (for example killed by the OOM killer): parse this one here.
                log.warning("parser process pool broke; parsing %s in-process", job.name)
                try:
                    parsed = _parse_job(
                        result.body or b"",
                        result.url,
                        result.content_type,
                        job.encoding,
                        job.language,
                        now,
                    )
                except FeedError as exc:
                    done(job, FeedOutcome(job.name, "error", error=str(exc)))
                    continue
            except Exception as exc:  # a parser crash on hostile bytes is this feed's problem only
                log.warning(
                    "parsing feed %s crashed: %s: %s", job.name, exc.__class__.__name__, exc
                )
                done(
                    job,
                    FeedOutcome(
                        job.name, "error", error=f"parser failed: {exc.__class__.__name__}: {exc}"
                    ),
                )
                continue
            rows = _item_rows(app, job, parsed, now)
            outcome = FeedOutcome(
                job.name, "ok", entries=len(parsed.entries), warning=parsed.warning
            )
            done(job, outcome, result, rows, digest)
    report.outcomes.sort(key=lambda o: o.name)
    return report
