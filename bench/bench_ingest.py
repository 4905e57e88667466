"""Benchmark: polling many feeds, sequential feedparser (rss2email's way) against ingest().

A child process serves generated RSS 2.0 feeds over loopback HTTP with added latency and
ETag/304. One run measures, side by side, the first poll and a conditional re-poll of

  baseline  a loop of ``feedparser.parse(url)``, then ``feedparser.parse(url, etag=, modified=)``
  ours      ``newsletter.service.ingest.ingest(app)`` on a fresh SQLite file

and then the CPU cost of parsing one feed. Run: ``.venv/bin/python bench/bench_ingest.py``.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import feedparser
from feedgen import is_chinese, make_feed
from harness import (
    feed_path,
    generated_feed_server,
    machine_summary,
    make_app,
    start_watchdog,
    timed,
)

from newsletter.feeds.parse import parse_feed
from newsletter.service.ingest import FeedOutcome, ingest

FIRST_POLL_TARGET = 3.0
REPOLL_TARGET = 15.0


@dataclass
class Poll:
    """One timed poll of every feed."""

    label: str
    seconds: float
    feeds: int
    items: int  # items delivered by the server (first poll) or 0 (re-poll)
    statuses: Counter[str] = field(default_factory=Counter)
    note: str = ""


def run_baseline(urls: list[str], timeout: float) -> tuple[Poll, Poll]:
    """rss2email's way: feedparser fetches and parses each URL in turn; then a 304 re-poll."""
    socket.setdefaulttimeout(timeout)  # feedparser has no timeout of its own
    validators: list[tuple[str | None, str | None]] = []
    statuses: Counter[str] = Counter()
    items = 0
    start = time.perf_counter()
    for url in urls:
        result = feedparser.parse(url)
        statuses[str(result.get("status"))] += 1
        items += len(result.entries)
        validators.append((result.get("etag"), result.get("modified")))
    first = Poll("baseline first poll", time.perf_counter() - start, len(urls), items, statuses)
    statuses = Counter()
    start = time.perf_counter()
    for url, (etag, modified) in zip(urls, validators, strict=True):
        result = feedparser.parse(url, etag=etag, modified=modified)
        statuses[str(result.get("status"))] += 1
    again = Poll("baseline re-poll", time.perf_counter() - start, len(urls), 0, statuses)
    socket.setdefaulttimeout(None)
    return first, again


@dataclass
class Progress:
    """Records when ingest() reported each feed (to split fetching from parsing and storing)."""

    start: float = field(default_factory=time.perf_counter)
    first_stored: float | None = None

    def __call__(self, outcome: FeedOutcome) -> None:
        if outcome.status == "ok" and self.first_stored is None:
            self.first_stored = time.perf_counter() - self.start


def run_ours(base_url: str, feeds: int, workers: int, concurrency: int | None) -> tuple[Poll, Poll]:
    """ingest() on a fresh SQLite file: first poll, then a re-poll with conditional GETs."""
    config = [
        {
            "name": f"Bench feed {i:05d}",
            "url": base_url + feed_path(i),
            "section": "industry" if i % 2 else "headlines",
            "language": "zh" if is_chinese(i) else "en",
        }
        for i in range(feeds)
    ]
    overrides: dict[str, Any] = {"parse_workers": workers}
    if concurrency is not None:
        overrides["fetch_concurrency"] = concurrency
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        app = make_app(Path(tmp), config, **overrides)
        try:
            polls = []
            for label in ("ours first poll", "ours re-poll"):
                progress = Progress()
                cpu = time.process_time()
                seconds, report = timed(partial(ingest, app, progress=progress))
                cpu = time.process_time() - cpu
                statuses = Counter(o.status for o in report.outcomes)
                note = f"main-process CPU {cpu:.2f} s"
                if progress.first_stored is not None:
                    note += f"; first feed stored after {progress.first_stored:.2f} s"
                for failed in report.failed[:3]:
                    note += f"; FAILED {failed.name}: {failed.error}"
                polls.append(Poll(label, seconds, feeds, report.new_items, statuses, note))
            polls[0].note += f"; settings fetch_concurrency={app.settings.fetch_concurrency}"
            polls[0].note += f" parse_workers={app.settings.parse_workers}"
        finally:
            app.engine.dispose()
    return polls[0], polls[1]


def parse_costs(items: int, sample: int, now: datetime) -> list[tuple[str, float]]:
    """Median CPU milliseconds to parse one generated feed, in this process, several ways."""
    bodies = [make_feed(i, items, now) for i in range(sample)]
    headers = {
        "content-type": "application/rss+xml; charset=utf-8",
        "content-location": "http://127.0.0.1/feed.xml",
    }

    def per_feed(parse: Any) -> float:
        times = []
        for body in bodies:
            start = time.process_time()
            parse(body)
            times.append(time.process_time() - start)
        return statistics.median(times) * 1000

    def plain(**flags: bool) -> Any:
        return lambda b: feedparser.parse(io.BytesIO(b), response_headers=headers, **flags)

    rows = [
        ("average feed body (KB)", sum(len(b) for b in bodies) / len(bodies) / 1024),
        ("feedparser.parse, defaults (ms)", per_feed(plain())),
        ("feedparser.parse, sanitize_html=False (ms)", per_feed(plain(sanitize_html=False))),
        (
            "feedparser.parse, sanitize_html=False, resolve_relative_uris=False (ms)",
            per_feed(plain(sanitize_html=False, resolve_relative_uris=False)),
        ),
        (
            "newsletter.feeds.parse.parse_feed (ms)",
            per_feed(lambda b: parse_feed(b, url=headers["content-location"], now=now)),
        ),
    ]
    return rows


def _speedup(baseline: Poll | None, ours: Poll, target: float) -> str:
    if baseline is None or ours.seconds <= 0:
        return ""
    ratio = baseline.seconds / ours.seconds
    verdict = "met" if ratio >= target else "MISSED"
    return f"{ratio:6.1f}x  (target >= {target:g}x: {verdict})"


def print_table(rows: list[tuple[Poll | None, Poll, float]]) -> None:
    """seconds, items/s, feeds/s and speedups."""
    print(f"\n{'run':<22}{'seconds':>9}{'items/s':>10}{'feeds/s':>9}  speedup")
    for baseline, ours, target in rows:
        for poll in (baseline, ours):
            if poll is None:
                continue
            items = f"{poll.items / poll.seconds:,.0f}" if poll.items else "-"
            speed = _speedup(baseline, ours, target) if poll is ours else ""
            print(
                f"{poll.label:<22}{poll.seconds:>9.2f}{items:>10}"
                f"{poll.feeds / poll.seconds:>9.1f}  {speed}"
            )
    print("items/s: items received and stored per second; a re-poll stores none (all 304).")
    for baseline, ours, _ in rows:
        for poll in (baseline, ours):
            if poll is not None:
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(poll.statuses.items()))
                print(f"  {poll.label}: {statuses}" + (f"; {poll.note}" if poll.note else ""))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 with --strict when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=500, help="number of feeds (500)")
    parser.add_argument("--items", type=int, default=50, help="items per feed (50)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per request")
    parser.add_argument("--quick", action="store_true", help="40 feeds of 20 items: a smoke run")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="parse_workers for ingest() (os.cpu_count())",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="fetch_concurrency for ingest() (default: the setting's, 32)",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="time ingest() only")
    parser.add_argument("--parse-sample", type=int, default=10, help="feeds for the parse costs")
    parser.add_argument("--time-limit", type=float, default=900, help="abort after this (s)")
    parser.add_argument(
        "--stock-backlog",
        action="store_true",
        help="keep FeedServer's listen backlog of 5 (see harness.fix_backlog)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.feeds, args.items, args.parse_sample = 40, 20, 3
    start_watchdog(args.time_limit)
    now = datetime.now(UTC)
    backlog = None if args.stock_backlog else 256
    print(machine_summary())
    print(
        f"feeds: {args.feeds} x {args.items} items, {args.latency * 1000:g} ms latency per "
        f"request, served from a child process on 127.0.0.1, listen backlog "
        f"{backlog or 'FeedServer default (5)'}"
    )
    serving = generated_feed_server(args.feeds, args.items, args.latency, now, backlog=backlog)
    with serving as (base_url, size):
        print(
            f"serving {size / 1e6:.1f} MB ({size / args.feeds / 1024:.0f} KB per feed) "
            f"at {base_url}"
        )
        urls = [base_url + feed_path(i) for i in range(args.feeds)]
        timeout = max(30.0, args.latency * 10)
        baseline: tuple[Poll | None, Poll | None] = (None, None)
        if not args.skip_baseline:
            print("baseline: sequential feedparser.parse(url) ...", flush=True)
            baseline = run_baseline(urls, timeout)
        print("ours: ingest(app) ...", flush=True)
        ours = run_ours(base_url, args.feeds, args.workers, args.concurrency)
    print_table([(baseline[0], ours[0], FIRST_POLL_TARGET), (baseline[1], ours[1], REPOLL_TARGET)])
    print(f"\nCPU to parse one feed (median of {args.parse_sample}, this process):")
    for label, value in parse_costs(args.items, args.parse_sample, now):
        print(f"  {label:<76}{value:8.1f}")
    expected = args.feeds * args.items
    problems = []
    if ours[0].items != expected or ours[1].statuses != Counter({"not_modified": args.feeds}):
        problems.append(f"ingest() stored {ours[0].items} of {expected} items or re-poll not 304")
    if (
        baseline[0] is not None
        and baseline[1] is not None
        and (baseline[0].items != expected or baseline[1].statuses != Counter({"304": args.feeds}))
    ):
        problems.append(f"baseline read {baseline[0].items} of {expected} items or re-poll not 304")
    missed = [
        label
        for b, o, target, label in (
            (baseline[0], ours[0], FIRST_POLL_TARGET, "first poll"),
            (baseline[1], ours[1], REPOLL_TARGET, "re-poll"),
        )
        if b is not None and b.seconds / o.seconds < target
    ]
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    if args.quick:
        print("(--quick: too small for the targets, which are for 500 feeds of 50 items)")
    return 1 if args.strict and (missed or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
