"""Poll every enabled feed: fetch concurrently, parse on all cores, store idempotently.

Each feed's health is kept here too: failures in a row back off exponentially and, after
NEWSLETTER_FEED_DISABLE_AFTER of them (or one 410 Gone), disable the feed with the reason;
Retry-After on 429/503 sets the next poll; a permanent redirect seen on consecutive polls is
adopted as the URL to fetch. The decisions are pure functions (``after_failure``,
``after_success``) so they are tested without a server or a clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    Executor,
    Future,
    ThreadPoolExecutor,
    as_completed,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from newsletter.config import FeedConfig, Settings
from newsletter.domain.retry import exponential_backoff
from newsletter.domain.statuses import FeedStatus
from newsletter.errors import DatabaseFullError, FeedError, ModelError
from newsletter.feeds.fetch import (
    FeedHTTPError,
    FetchLimits,
    FetchResult,
    Validators,
    fetch_feed,
    make_client,
)
from newsletter.feeds.guard import PrivateAddressError
from newsletter.service.app import App
from newsletter.service.parsing import (
    FeedJob,
    ReadingInputs,
    ReadItems,
    item_rows,
    parse_pool,
    read_job,
)
from newsletter.service.poll_schedule import plan_poll, schedule_feed
from newsletter.service.reading import checked_model, feed_rules, model_path
from newsletter.storage.db import (
    Connection,
    Engine,
    SQLAlchemyError,
    connection_scope,
    session_scope,
)
from newsletter.storage.queries import feed_states
from newsletter.storage.queries.feed_states import FeedState

if TYPE_CHECKING:
    # The ORM (SQLModel, the table classes) is imported only when a feed changed: a poll of
    # unchanged feeds reads and writes feed states with Core (storage/queries/feed_states.py).
    from newsletter.storage.models import Feed

log = logging.getLogger(__name__)
INLINE_PARSE_BELOW = 4  # fewer bodies than this are parsed in-process (no pool start-up cost)
REDIRECT_ADOPT_AFTER = 2  # polls in a row that must see the same permanent redirect
MAX_BACKOFF = timedelta(hours=24)
DUE_SLACK = timedelta(minutes=2)  # a poll a little early still fetches a feed due at its time
# Finished feeds are stored in batches: one transaction for up to this many feeds or item
# rows, or for what finished within this many seconds (SQLite has one writer: keep each
# transaction a fraction of a second).
BATCH_FEEDS = 200
BATCH_ROWS = 5_000
BATCH_SECONDS = 0.25


@dataclass
class FeedOutcome:
    """What happened to one feed in this poll."""

    name: str
    status: str  # ok, not_modified, unchanged, error, deferred (not due yet), disabled
    new_items: int = 0
    entries: int = 0
    error: str | None = None
    warning: str | None = None
    http_status: int | None = None
    retry_after: timedelta | None = None
    gone: bool = False
    ttl: str | None = None  # the feed's RSS <ttl>, for adaptive polling
    # Refused by the settings (its own host is private): no back-off, never disabled for it.
    by_settings: bool = False


@dataclass
class IngestReport:
    """The outcome of one poll of every enabled feed."""

    outcomes: list[FeedOutcome] = field(default_factory=list)
    # A poll asked to stop (PollStop): the feeds whose request never started. They were not
    # touched in the database (due as before, no error recorded); they are not in outcomes.
    not_polled: list[str] = field(default_factory=list)
    stopped: bool = False  # the stop came while this poll ran

    @property
    def new_items(self) -> int:
        """Items stored by this poll."""
        return sum(o.new_items for o in self.outcomes)

    @property
    def failed(self) -> list[FeedOutcome]:
        """Feeds that failed."""
        return [o for o in self.outcomes if o.status == "error"]


@dataclass(frozen=True)
class FailureState:
    """What a failed poll leaves on a feed: when to try again, or why it is now disabled."""

    next_poll_at: datetime | None
    disabled_reason: str | None


def backoff(failures: int, poll_interval: timedelta) -> timedelta | None:
    """How long to wait after ``failures`` failures in a row: nothing after the first, then
    twice the poll interval, doubling each time, at most MAX_BACKOFF."""
    if failures < 2:
        return None
    return exponential_backoff(failures - 1, poll_interval, MAX_BACKOFF)


def after_failure(
    name: str,
    failures: int,
    error: str,
    now: datetime,
    *,
    poll_interval: timedelta,
    disable_after: int,
    retry_after: timedelta | None = None,
    gone: bool = False,
) -> FailureState:
    """The feed's state after its ``failures``-th failure in a row (this one included)."""
    retry = f"fix it and run `newsletter ingest --feed {name!r}` to try it again"
    if gone:
        return FailureState(
            None,
            f"disabled {now:%Y-%m-%d}: HTTP 410 Gone, the publisher removed this feed; "
            f"remove it from feeds.yaml or give it a new url, or {retry}",
        )
    if failures >= disable_after:
        return FailureState(
            None,
            f"disabled {now:%Y-%m-%d} after {failures} failed polls in a row "
            f"(NEWSLETTER_FEED_DISABLE_AFTER); {retry}; last error: {error[:200]}",
        )
    if retry_after is not None:
        return FailureState(now + retry_after, None)  # RFC 9110 §10.2.3
    delay = backoff(failures, poll_interval)
    return FailureState(now + delay if delay else None, None)


@dataclass(frozen=True)
class RedirectState:
    """A feed's permanent-redirect bookkeeping."""

    redirect_url: str | None  # adopted: fetched instead of the configured url
    candidate: str | None  # the last permanent redirect target seen
    count: int  # polls in a row that saw it


def after_success(
    configured_url: str, state: RedirectState, permanent_url: str | None
) -> RedirectState:
    """The redirect state after a successful fetch whose leading 301/308s pointed to
    ``permanent_url`` (None: no permanent redirect this time). 302/307 never get here."""
    if permanent_url is None:
        return RedirectState(state.redirect_url, None, 0)
    count = state.count + 1 if permanent_url == state.candidate else 1
    if count >= REDIRECT_ADOPT_AFTER:
        adopted = None if permanent_url == configured_url else permanent_url
        return RedirectState(adopted, permanent_url, count)
    return RedirectState(state.redirect_url, permanent_url, count)


Progress = Callable[[FeedOutcome], None]


class PollStop:
    """A request to end a poll early, from another thread (a signal's): the poll starts no new
    request, lets those in flight finish or time out, and parses and stores every feed that
    answered, as a complete poll would. The feeds never requested are left as they were.

    ``event``: a stop request that comes from elsewhere too (a worker's stop event); the poll
    stops when it is set as when ``request`` is called."""

    def __init__(self, event: threading.Event | None = None) -> None:
        self._event = event
        self._lock = threading.Lock()
        self._asked = False
        self._in_flight = 0

    def request(self) -> int:
        """Ask the poll to stop; returns how many of its requests are in flight now (they are
        let finish: no other request starts after this returns)."""
        with self._lock:
            self._asked = True
            return self._in_flight

    @property
    def is_requested(self) -> bool:
        """Whether the poll was asked to stop."""
        return self._asked or (self._event is not None and self._event.is_set())

    def begin(self) -> bool:
        """Count one request in flight, unless a stop was asked for (False: do not start it)."""
        with self._lock:
            if self.is_requested:
                return False
            self._in_flight += 1
            return True

    def end(self) -> None:
        """One request started by ``begin`` has finished (answered, failed or timed out)."""
        with self._lock:
            self._in_flight -= 1


def _fetch_unless_stopped(
    stop: PollStop | None, http: httpx.Client, job: FeedJob
) -> FetchResult | None:
    """The feed's fetch, or None when the poll was asked to stop before it started."""
    if stop is None:
        return fetch_feed(http, job.url, job.validators, job.limits)
    if not stop.begin():
        return None
    try:
        return fetch_feed(http, job.url, job.validators, job.limits)
    finally:
        stop.end()


Parse = Callable[[], ReadItems]  # one feed's parse, run in a pool or, if it broke, here


@dataclass
class FeedWrite:
    """What one feed's poll leaves to store: its items and its new state, written together."""

    job: FeedJob
    outcome: FeedOutcome
    result: FetchResult | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    body_hash: str | None = None

    @property
    def is_plain_not_modified(self) -> bool:
        """A 304 with no permanent redirect: the same update as every other such feed."""
        return (
            self.outcome.status == "not_modified"
            and self.result is not None
            and self.result.permanent_url is None
            and not self.rows
        )


def _apply(feed: Feed, write: FeedWrite, new_items: int, now: datetime, settings: Settings) -> None:
    """Set one feed's state after its poll (the row is written with the batch's transaction)."""
    job, outcome, result = write.job, write.outcome, write.result
    feed.last_fetched_at = now
    if outcome.status == "error" and outcome.by_settings:
        # Nothing was asked of the feed: the settings refused its address. It stays due, so the
        # next ingest after the setting is changed polls it, and it is never disabled for it.
        feed.last_status = FeedStatus.ERROR
        feed.last_error = (outcome.error or "")[:2000]
        feed.next_poll_at = None
        return
    if outcome.status == "error":
        feed.last_status = FeedStatus.ERROR
        feed.last_error = (outcome.error or "")[:2000]
        feed.consecutive_failures += 1
        if outcome.http_status is not None:
            feed.last_http_status = outcome.http_status
        state = after_failure(
            job.name,
            feed.consecutive_failures,
            outcome.error or "",
            now,
            poll_interval=timedelta(minutes=settings.poll_minutes),
            disable_after=settings.feed_disable_after,
            retry_after=outcome.retry_after,
            gone=outcome.gone,
        )
        feed.next_poll_at = state.next_poll_at
        if state.disabled_reason:
            feed.auto_disabled_at = now
            feed.auto_disabled_reason = state.disabled_reason[:500]
            log.warning("feed %r disabled: %s", job.name, state.disabled_reason)
        _schedule(feed, write, now, settings)
        return
    outcome.new_items = new_items
    feed.last_status = outcome.status if outcome.status != "unchanged" else FeedStatus.NOT_MODIFIED
    feed.last_error = outcome.warning[:2000] if outcome.warning else None
    feed.consecutive_failures = 0
    feed.next_poll_at = None
    feed.auto_disabled_at = feed.auto_disabled_reason = None
    feed.last_success_at = now
    if result is not None:
        feed.last_http_status = result.status
        if result.status == 200:
            feed.etag = result.validators.etag
            feed.last_modified = result.validators.last_modified
        redirect = after_success(
            feed.url,
            RedirectState(feed.redirect_url, feed.redirect_candidate, feed.redirect_count),
            result.permanent_url,
        )
        if redirect.redirect_url != feed.redirect_url:
            log.info("feed %r moved permanently to %s", job.name, redirect.redirect_url)
        feed.redirect_url = redirect.redirect_url
        feed.redirect_candidate = redirect.candidate
        feed.redirect_count = redirect.count
    if write.body_hash:
        feed.body_hash = write.body_hash
    _schedule(feed, write, now, settings)


def _schedule(feed: Feed, write: FeedWrite, now: datetime, settings: Settings) -> None:
    """Adaptive polling (newsletter.service.poll_schedule): when this feed is due again, set
    in the same transaction as its items."""
    outcome = write.outcome
    schedule_feed(
        feed,
        settings,
        now,
        result=write.result,
        rows=write.rows if outcome.status == "ok" else None,
        ttl=outcome.ttl,
        retry_after=outcome.retry_after,
    )


def write_batch(engine: Engine, writes: list[FeedWrite], now: datetime, settings: Settings) -> None:
    """Store several feeds' items and states in one transaction: the items with one
    ``executemany``, the plain 304s with one UPDATE, the other feeds' rows read with one query.
    Raises SQLAlchemyError with nothing of the batch written. A batch of plain 304s only is
    written on a Core connection, without the ORM."""
    plain = [w for w in writes if w.is_plain_not_modified]
    rest = [w for w in writes if not w.is_plain_not_modified]
    if not rest:
        with connection_scope(engine) as conn:
            _write_not_modified(conn, plain, now, settings)
        return
    from newsletter.storage.queries import feeds, items

    with session_scope(engine) as session:
        _write_not_modified(session.connection(), plain, now, settings)
        rows = [row for w in rest if w.outcome.status != "error" for row in w.rows]
        new_items = items.insert_feed_items(session, rows)
        stored = feeds.feeds_by_id(session, {w.job.id for w in rest})
        for write in rest:
            feed = stored.get(write.job.id)
            if feed is None:
                raise FeedStoreError(f"feed {write.job.name!r} is no longer in the database")
            _apply(feed, write, new_items.get(write.job.id, 0), now, settings)
            feeds.save_feed(session, feed)


def _write_not_modified(
    conn: Connection, plain: list[FeedWrite], now: datetime, settings: Settings
) -> None:
    """The plain 304s of a batch: one UPDATE, then each feed's adaptive next poll (its known
    posting frequency and this response's cache headers; one statement per shared plan)."""
    if not plain:
        return
    ids = [w.job.id for w in plain]
    feed_states.mark_polled_unchanged(conn, ids, now, 304)
    weekly = feed_states.weekly_entries_by_id(conn, ids)
    plans = {
        w.job.id: plan_poll(weekly.get(w.job.id), settings, now, result=w.result) for w in plain
    }
    feed_states.set_poll_plans(
        conn, {fid: (plan.next_poll_at, plan.reason) for fid, plan in plans.items()}
    )


class FeedStoreError(RuntimeError):
    """A feed row vanished during the poll (deleted by another process): that feed's write
    fails, the others are stored."""


Flushed = Callable[[FeedWrite], None]


class BatchWriter:
    """Collects finished feeds and stores them in batches: one transaction per batch, yet
    atomic per feed (a feed's items and its health update are written together or not at
    all). When a batch fails, each of its feeds is written in a transaction of its own, so
    one feed the database refuses loses nothing of the others. A full disk stops the writer:
    DatabaseFullError, after reporting the feeds stored before it (and none of the rest)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        now: datetime,
        flushed: Flushed,
        *,
        max_feeds: int = BATCH_FEEDS,
        max_rows: int = BATCH_ROWS,
        max_wait: float = BATCH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine, self._settings, self._now = engine, settings, now
        self._flushed = flushed
        self._max_feeds, self._max_rows, self._max_wait = max_feeds, max_rows, max_wait
        self._clock = clock
        self._pending: list[FeedWrite] = []
        self._rows = 0
        self._since = 0.0

    def add(self, write: FeedWrite) -> None:
        """Queue one feed's write; stores the batch when it is full or old enough."""
        if not self._pending:
            self._since = self._clock()
        self._pending.append(write)
        self._rows += len(write.rows)
        if (
            len(self._pending) >= self._max_feeds
            or self._rows >= self._max_rows
            or self._clock() - self._since >= self._max_wait
        ):
            self.flush()

    def flush(self) -> None:
        """Store what is queued, then report each feed (after its write, never before)."""
        batch, self._pending, self._rows = self._pending, [], 0
        if not batch:
            return
        try:
            write_batch(self._engine, batch, self._now, self._settings)
        except DatabaseFullError:
            _not_stored(batch)
            raise
        except (SQLAlchemyError, FeedStoreError) as exc:
            if len(batch) == 1:
                self._failed(batch[0], exc)
            else:
                log.warning(
                    "storing a batch of %d feeds failed (%s); storing them one by one",
                    len(batch),
                    _one_line(exc),
                )
                for position, write in enumerate(batch):
                    try:
                        write_batch(self._engine, [write], self._now, self._settings)
                    except DatabaseFullError:
                        _not_stored(batch[position:])
                        for stored in batch[:position]:
                            self._flushed(stored)
                        raise
                    except (SQLAlchemyError, FeedStoreError) as one:
                        self._failed(write, one)
        for write in batch:
            self._flushed(write)

    def _failed(self, write: FeedWrite, exc: Exception) -> None:
        """The database said no to this feed: report it in one line, keep going."""
        reason = _one_line(exc)
        log.warning("storing feed %s failed: %s", write.job.name, reason)
        write.outcome.status, write.outcome.error = "error", f"storing items failed: {reason}"
        write.outcome.new_items = 0


def _not_stored(writes: list[FeedWrite]) -> None:
    """These feeds' transaction was rolled back: none of their items count as new."""
    for write in writes:
        write.outcome.new_items = 0


def _one_line(exc: BaseException) -> str:
    """The database's own words for a refused write, on one line."""
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())[:300]


@contextlib.contextmanager
def _cancelled_on_error(futures: Iterable[Future[Any]]) -> Iterator[None]:
    """When the block raises (a full disk stops the poll), the work not started yet is
    cancelled instead of run for nothing; what runs finishes on its own."""
    try:
        yield
    except BaseException:
        for future in list(futures):
            future.cancel()
        raise


def _failed(job: FeedJob, exc: FeedError) -> FeedOutcome:
    """The outcome of a fetch that raised, with what the feed's health needs from it."""
    outcome = FeedOutcome(job.name, "error", error=str(exc))
    # Only feeds.yaml's own URL is the settings' business: an adopted redirect is the server's
    # choice, and fails (backs off, is disabled) as any failing feed does.
    outcome.by_settings = isinstance(exc, PrivateAddressError) and not job.redirected
    if isinstance(exc, FeedHTTPError):
        outcome.http_status = exc.status
        outcome.retry_after = exc.retry_after
        outcome.gone = exc.is_gone
    return outcome


def _limits(app: App, cfg: FeedConfig | None) -> FetchLimits:
    """The fetch limits of one feed: its allow_private allows its own host only."""
    settings = app.settings
    hosts: frozenset[str] = frozenset()
    if cfg is not None and cfg.allow_private:
        hosts = frozenset({(urlsplit(cfg.url).hostname or "").lower()})
    return FetchLimits(
        settings.fetch_timeout,
        settings.fetch_max_bytes,
        settings.allow_private_addresses,
        allow_private_hosts=hosts,
    )


def _skipped(feed: FeedState, now: datetime, explicit: bool) -> FeedOutcome | None:
    """A 'disabled' or 'deferred' outcome for a feed not fetched this time (None: fetch it).
    A feed named with --feed is fetched anyway: that is how an operator retries it."""
    if explicit:
        return None
    if feed.auto_disabled_at is not None:
        return FeedOutcome(feed.name, "disabled", warning=feed.auto_disabled_reason)
    if feed.next_poll_at is not None and feed.next_poll_at > now + DUE_SLACK:
        why = feed.last_error or ""
        if len(why) > 160:
            why = why[:159].rsplit(" ", 1)[0] + "…"
        return FeedOutcome(
            feed.name,
            "deferred",
            warning=(
                f"next try after {feed.next_poll_at:%Y-%m-%d %H:%M} UTC "
                f"({feed.consecutive_failures} failure(s) in a row; last: {why})"
            ),
        )
    return None


class ModelCheck:
    """Reading the model file once, in a thread, started when it is first needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._future: Future[object] | None = None

    def start(self) -> None:
        if self._future is None:
            checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-check")
            self._future = checker.submit(checked_model, self.path)
            checker.shutdown(wait=False)

    def wait(self) -> None:
        """Raise the check's ModelError, if any (starting it if it has not started)."""
        self.start()
        assert self._future is not None
        self._future.result()


def ingest(
    app: App,
    *,
    client: httpx.Client | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    only: set[str] | None = None,
    stop: PollStop | None = None,
    failures_shown: bool = False,
) -> IngestReport:
    """Poll every enabled feed once. One failing feed is recorded and never stops the others.
    ``stop``: a way to end the poll early (see PollStop; the report lists what was not polled).
    ``failures_shown``: the caller shows each failing feed to the user itself (the `ingest`
    command's table), so a failure is logged at INFO, not as a warning said twice."""
    now = now or datetime.now(UTC)
    path = model_path(app)
    # A damaged model is one error before any parsed feed is written, not every feed failing in
    # the parsing processes (which would count against each feed's health). Reading the model
    # file costs a few hundred milliseconds: it is checked only once a feed body needs reading,
    # while the other requests are out (a poll of unchanged feeds never loads it).
    checking = ModelCheck(path) if path is not None else None
    configs = {cfg.name: cfg for cfg in app.config.feeds}
    jobs: list[FeedJob] = []
    skipped: list[FeedOutcome] = []
    with connection_scope(app.engine) as conn:
        synced = feed_states.sync_feeds(conn, app.config.feeds)
        for f in synced.values():
            if not f.enabled or (only is not None and f.name not in only):
                continue
            held = _skipped(f, now, explicit=only is not None)
            if held is not None:
                skipped.append(held)
                continue
            jobs.append(feed_job(app, f, configs.get(f.name)))
    return poll_jobs(
        app,
        jobs,
        skipped,
        client=client,
        now=now,
        progress=progress,
        checking=checking,
        stop=stop,
        failures_shown=failures_shown,
    )


def feed_job(app: App, f: FeedState | Feed, cfg: FeedConfig | None) -> FeedJob:
    """A detached copy of what polling one feed row needs (``cfg``: its feeds.yaml entry);
    ``f`` is the row as ``sync_feeds`` reads it, or the ORM row an ingest worker claimed."""
    return FeedJob(
        f.id or 0,
        f.name,
        f.redirect_url or f.url,
        f.section,
        f.language,
        f.encoding,
        Validators(f.etag, f.last_modified),
        f.body_hash,
        limits=_limits(app, cfg),
        timezone=cfg.tz if cfg is not None else None,
        rules=feed_rules(cfg, f.name, f.section),
        redirected=bool(f.redirect_url),
    )


def poll_jobs(
    app: App,
    jobs: list[FeedJob],
    skipped: list[FeedOutcome] | None = None,
    *,
    client: httpx.Client | None = None,
    now: datetime,
    progress: Progress | None = None,
    parsers: Executor | None = None,
    checking: ModelCheck | None = None,
    stop: PollStop | None = None,
    failures_shown: bool = False,
) -> IngestReport:
    """Fetch, parse and store these feeds (``ingest`` and the ingest workers share it); a
    given ``parsers`` pool is used and left running (a worker keeps one for all its batches).
    ``checking`` is the model check: started when the first body needs reading, and waited for
    before the first parsed feed is written (a ModelError from it stops the poll there).
    ``stop``: once requested, no new request starts; what answered is stored as usual.
    ``failures_shown``: as for ``ingest``."""
    settings = app.settings
    path = model_path(app)
    inputs = ReadingInputs(
        app.config.rule_order,
        app.config.topic,
        str(path) if path else None,
        app.config.newsletter.tz,
    )
    limits = FetchLimits(
        settings.fetch_timeout, settings.fetch_max_bytes, settings.allow_private_addresses
    )
    own_client = client is None
    http = client or make_client(limits, max_connections=settings.fetch_concurrency)
    report = IngestReport()
    for outcome in skipped or []:
        report.outcomes.append(outcome)
        if progress:
            progress(outcome)

    def flushed(write: FeedWrite) -> None:
        outcome = write.outcome
        report.outcomes.append(outcome)
        if outcome.status == "error":
            level = logging.INFO if failures_shown else logging.WARNING
            log.log(level, "feed %r failed: %s", write.job.name, outcome.error)
        if progress:
            progress(outcome)

    writer = BatchWriter(app.engine, settings, now, flushed)

    def model_checked() -> None:
        nonlocal checking
        if checking is not None:
            checking.wait()  # ModelError: the poll stops here, no parsed feed written
            checking = None

    def done(
        job: FeedJob,
        outcome: FeedOutcome,
        result: FetchResult | None = None,
        rows: list[dict[str, Any]] | None = None,
        body_hash: str | None = None,
    ) -> None:
        if rows:
            model_checked()
        writer.add(FeedWrite(job, outcome, result, rows or [], body_hash))

    # Bodies are handed to the parsing processes as they arrive, so parsing overlaps the
    # fetches still out. The pool starts once INLINE_PARSE_BELOW bodies wait (a poll that
    # fetches fewer, such as a re-poll of unchanged feeds, parses in-process: no pool start-up).
    owned = parsers is None  # a pool made here is shut down here; a given one is left running
    pool_of_parsers: Executor | None = parsers
    waiting: list[tuple[FeedJob, FetchResult, str]] = []
    parse_futures: dict[Future[ReadItems], tuple[FeedJob, FetchResult, str, Parse]] = {}
    finished: deque[Future[ReadItems]] = deque()  # parsed while fetches are still out

    def submit(job: FeedJob, result: FetchResult, digest: str) -> None:
        nonlocal pool_of_parsers, owned
        assert pool_of_parsers is not None
        parse: Parse = partial(
            read_job,
            result.body or b"",
            result.url,
            result.content_type,
            job,
            now,
            settings.max_items_per_feed,
            inputs,
        )
        try:
            parsing = pool_of_parsers.submit(parse)
        except BrokenProcessPool:
            # A parsing process died (the OOM killer, say) while fetches were still arriving:
            # the rest of the poll parses in-process (what was submitted is parsed again here
            # by parsed_one) instead of losing the bodies still to come.
            log.warning("parser process pool broke; parsing the remaining feeds in-process")
            if owned:
                pool_of_parsers.shutdown(wait=False, cancel_futures=True)
            pool_of_parsers = ThreadPoolExecutor(max_workers=1)
            owned = True
            parsing = pool_of_parsers.submit(parse)
        parse_futures[parsing] = (job, result, digest, parse)
        parsing.add_done_callback(finished.append)  # deque.append is thread-safe

    def start_parsers(inline: bool) -> None:
        nonlocal pool_of_parsers
        if pool_of_parsers is None:
            if inline or settings.parse_workers <= 1:
                pool_of_parsers = ThreadPoolExecutor(max_workers=1)
            else:
                pool_of_parsers = parse_pool(min(settings.parse_workers, len(jobs)))
        for job, result, digest in waiting:
            submit(job, result, digest)
        waiting.clear()

    def parsed_one(parsing: Future[ReadItems]) -> None:
        job, result, digest, parse = parse_futures.pop(parsing)
        try:
            parsed = parsing.result()
        except FeedError as exc:
            done(job, FeedOutcome(job.name, "error", error=str(exc)))
            return
        except BrokenProcessPool:
            # A worker died (for example killed by the OOM killer): parse this one here.
            log.warning("parser process pool broke; parsing %s in-process", job.name)
            try:
                parsed = parse()
            except FeedError as exc:
                done(job, FeedOutcome(job.name, "error", error=str(exc)))
                return
        except ModelError:
            writer.flush()  # what finished before is kept
            model_checked()  # its message says how to get a working model back
            raise  # the model became unreadable during the poll: one error, not every feed
        except Exception as exc:  # a parser crash on hostile bytes is this feed's problem only
            log.warning("parsing feed %s crashed: %s: %s", job.name, exc.__class__.__name__, exc)
            error = f"parser failed: {exc.__class__.__name__}: {exc}"
            done(job, FeedOutcome(job.name, "error", error=error))
            return
        rows = item_rows(job, parsed, now)
        outcome = FeedOutcome(
            job.name, "ok", entries=parsed.entries, warning=parsed.warning, ttl=parsed.ttl
        )
        done(job, outcome, result, rows, digest)

    def fetched_one(job: FeedJob, future: Future[FetchResult | None]) -> None:
        try:
            result = future.result()
        except FeedError as exc:
            done(job, _failed(job, exc))
            return
        if result is None:  # the poll was stopped before this feed's request started
            report.not_polled.append(job.name)
            return
        if result.not_modified:
            done(job, FeedOutcome(job.name, "not_modified"), result)
            return
        assert result.body is not None
        digest = hashlib.sha256(result.body).hexdigest()
        if digest == job.body_hash:
            done(job, FeedOutcome(job.name, "unchanged"), result)
            return
        if checking is not None:
            checking.start()
        waiting.append((job, result, digest))
        if pool_of_parsers is not None or len(waiting) >= INLINE_PARSE_BELOW:
            start_parsers(inline=False)
        while finished:
            parsed_one(finished.popleft())

    try:
        try:
            with _cancelled_on_error(parse_futures):
                try:
                    with ThreadPoolExecutor(
                        max_workers=settings.fetch_concurrency, thread_name_prefix="fetch"
                    ) as pool:
                        futures = {
                            pool.submit(_fetch_unless_stopped, stop, http, job): job for job in jobs
                        }
                        with _cancelled_on_error(futures):
                            for future in as_completed(futures):
                                # A finished future is not kept with its body.
                                fetched_one(futures.pop(future), future)
                finally:
                    if own_client:
                        http.close()
                if waiting or parse_futures:
                    model_checked()
                if waiting:
                    start_parsers(inline=True)
                for parsing in as_completed(list(parse_futures)):
                    parsed_one(parsing)
        finally:
            if owned and pool_of_parsers is not None:
                pool_of_parsers.shutdown(wait=True, cancel_futures=True)
        writer.flush()
    except DatabaseFullError as exc:
        stored = [o for o in report.outcomes if o.status in ("ok", "not_modified", "unchanged")]
        raise DatabaseFullError(
            f"ingest stopped: {exc}; {report.new_items} new items from {len(stored)} feeds "
            "were stored before it (the other feeds are polled again by the next ingest)"
        ) from exc
    report.outcomes.sort(key=lambda o: o.name)
    report.not_polled.sort()
    report.stopped = stop is not None and stop.is_requested
    return report
