"""Parsing and reading one fetched feed, in a parsing process: what ingest hands to its pool.

The main process fetches, dispatches and writes; parsing a body and reading its entries
(relevance, facts, section: newsletter.domain.editorial.classify) happen here, spread over the
cores. The reading model is named by its file and loaded once per process.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
import select
import signal
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from newsletter.feeds.limits import FetchLimits, Validators

if TYPE_CHECKING:
    from newsletter.config import SectionConfig, TopicConfig
    from newsletter.domain.editorial.classify import FeedRules, Reading
    from newsletter.feeds.parse import ParsedFeed

# Parsing (feedparser, nh3, lxml) and the reading (the detectors' regular expressions, the
# model) are imported by parse_job, in the parsing processes (preloaded by the forkserver):
# the main process, which only fetches, dispatches and writes, starts without them.


@dataclass(frozen=True)
class FeedJob:
    """A detached copy of what fetching one feed needs."""

    id: int
    name: str
    url: str  # what is fetched: feeds.yaml's url, or the permanent redirect adopted for it
    section: str
    language: str
    encoding: str | None
    validators: Validators
    body_hash: str | None
    limits: FetchLimits = field(default_factory=FetchLimits)
    timezone: tzinfo | None = None
    rules: FeedRules | None = None  # the feed's part of the reading (None: defaults)
    redirected: bool = False  # ``url`` is an adopted permanent redirect (the server's choice)


@dataclass(frozen=True)
class ReadingInputs:
    """What the reading needs, small enough to send to each parsing process (the model is
    named by its file and loaded once per process)."""

    rule_order: tuple[SectionConfig, ...]
    topic: TopicConfig
    model_path: str | None
    tz: tzinfo


@dataclass(frozen=True)
class ReadFeed:
    """A parsed feed and the reading of each of its entries, in order."""

    parsed: ParsedFeed
    readings: list[Reading]


def parse_job(
    body: bytes,
    url: str,
    content_type: str | None,
    job: FeedJob,
    now: datetime,
    max_entries: int,
    inputs: ReadingInputs,
) -> ReadFeed:
    """Parse a feed and read its entries: runs in a parsing process, so the reading (detectors
    and model) is spread over the cores and not done by the main process."""
    from newsletter.domain.editorial.classify import FeedRules, ReadingRules
    from newsletter.feeds.parse import parse_feed
    from newsletter.learning.store import load_model
    from newsletter.service.reading import read_feed_items

    parsed = parse_feed(
        body,
        url=url,
        content_type=content_type,
        encoding=job.encoding,
        language=job.language,
        now=now,
        timezone=job.timezone,
        max_entries=max_entries,
    )
    model = Path(inputs.model_path) if inputs.model_path else None
    rules = ReadingRules(inputs.rule_order, inputs.topic, load_model(model) if model else None)
    feed = job.rules or FeedRules(job.name, job.section)
    texts = [
        (entry.title, entry.summary_text, job.language, entry.published or now)
        for entry in parsed.entries
    ]
    return ReadFeed(parsed, read_feed_items(rules, feed, texts, inputs.tz))


def _leave_signals_to_the_parent(main_pid: int) -> None:
    """In a parsing process: ignore SIGINT (a terminal's Ctrl-C goes to the whole process
    group, and a parsing process would die of it with a KeyboardInterrupt traceback, breaking
    the pool mid-poll; the main process stops the poll in its own way, PollStop, then shuts
    the pool down), and end when the main process ends, however it ends (a second Ctrl-C's
    immediate exit, a SIGKILL): a parsing process waiting for work would otherwise wait for
    ever, since it holds both ends of its own queue's pipe, and keep the forkserver alive.

    SIGTERM keeps its default (it is ignored in the forkserver this process was forked from):
    when one parsing process dies (the OOM killer), the pool ends the others with SIGTERM and
    waits for them, for ever if they ignored it. A SIGTERM to the whole group (systemd's
    default KillMode) therefore ends them and the poll's remaining feeds are parsed in the
    main process; docs/operators-guide.md's units use KillMode=mixed, which signals the main
    process only."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        main = os.pidfd_open(main_pid)  # Linux 5.3+: readable once that process has ended
    except ProcessLookupError:
        os._exit(0)  # it has ended already
    except (AttributeError, OSError):
        return  # no pidfd here: the pool's shutdown is what ends this process
    threading.Thread(
        target=_exit_with_main, args=(main,), name="main-process-watch", daemon=True
    ).start()


def _exit_with_main(pidfd: int) -> None:
    select.select([pidfd], [], [])
    os._exit(0)


@dataclass(frozen=True)
class ReadItems:
    """What a parsing process sends back: a parsed feed's entries with their readings, as the
    item columns they become (plain strings, numbers, datetimes and dicts). The main process
    unpickles them without importing the parser and the detectors (a quarter of a second of
    CPU), and builds no Entry or Reading objects it would only copy into rows."""

    entries: int  # entries read from the feed (after duplicates and mojibake were left out)
    warning: str | None
    ttl: str | None
    items: list[dict[str, Any]]  # per entry: item columns (published None: no usable date)


def read_job(
    body: bytes,
    url: str,
    content_type: str | None,
    job: FeedJob,
    now: datetime,
    max_entries: int,
    inputs: ReadingInputs,
) -> ReadItems:
    """parse_job, its result as item columns: what ingest runs in its parsing processes."""
    read = parse_job(body, url, content_type, job, now, max_entries, inputs)
    items = [
        {
            "key": entry.key,
            "url": entry.url,
            "title": entry.title,
            "summary_html": entry.summary_html,
            "summary_text": entry.summary_text,
            "author": entry.author,
            "published": entry.published,
            "section": reading.section,
            "section_reason": reading.reason,
            "relevance": reading.relevance,
            "suggested_section": reading.suggested,
            "facts": reading.facts,
            "content_hash": entry.content_hash,
        }
        for entry, reading in zip(read.parsed.entries, read.readings, strict=True)
    ]
    return ReadItems(len(read.parsed.entries), read.parsed.warning, read.parsed.ttl, items)


# Everything a job imports (NumPy for the reading model), so that the forkserver imports it
# once and every parsing process starts with it; none of it is httpx, SQLAlchemy or the CLI
# (tests/service/test_parsing.py).
PRELOAD = (
    "newsletter.feeds.parse",
    "newsletter.domain.editorial.classify",
    "newsletter.learning.store",
    "newsletter.service.parsing",
    "newsletter.service.reading",
    "numpy",
)


def parse_pool(workers: int) -> Executor:
    """A pool of parsing processes, forked by a forkserver that preloads the parsing modules;
    they ignore SIGINT (see _leave_signals_to_the_parent).

    The forkserver itself ignores SIGINT only once its preloading is done, which takes a second
    or more, and never SIGTERM: it is started here with both ignored (dispositions a child
    keeps through exec), from the main thread, for the fork and exec (about 10 ms on a loaded
    machine). It ends with the main process (its pipe closes), so it needs neither; a signal to
    the whole group in its first second used to kill it (`EOFError`, nothing stored). The cost:
    a Ctrl-C in those milliseconds is ignored and must be pressed again. A signal mask would
    lose nothing, but the child's mask is reset at exec."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    if threading.current_thread() is threading.main_thread():
        handlers = {n: signal.signal(n, signal.SIG_IGN) for n in (signal.SIGINT, signal.SIGTERM)}
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_leave_signals_to_the_parent,
        initargs=(os.getpid(),),
    )


def item_rows(job: FeedJob, read: ReadItems, now: datetime) -> list[dict[str, Any]]:
    """The rows to insert for one feed's items: what read_job sent, with the feed's id and
    language, and an item without a usable date dated when first seen."""
    rows = []
    for item in read.items:
        published = item["published"]
        rows.append(
            {
                "feed_id": job.id,
                "key": item["key"],
                "url": item["url"],
                "title": item["title"],
                "summary_html": item["summary_html"],
                "summary_text": item["summary_text"],
                "author": item["author"],
                "published": published or now,
                "published_source": "feed" if published else "first_seen",
                "first_seen": now,
                "language": job.language,
                "section": item["section"],
                "section_reason": item["section_reason"],
                "relevance": item["relevance"],
                "suggested_section": item["suggested_section"],
                "facts": item["facts"],
                "cluster": None,
                "content_hash": item["content_hash"],
            }
        )
    return rows
