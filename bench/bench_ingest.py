"""Benchmark: polling many feeds, sequential feedparser (rss2email's way) against the
`newsletter ingest` command as a user runs it.

A child process serves generated RSS 2.0 feeds over loopback HTTP with added latency and
ETag/304; every item carries a financing or event sentence (English or Chinese), so the
reading's detectors work as on trade-press feeds. One run measures, side by side, the first
poll and a conditional re-poll of

  baseline  a loop of ``feedparser.parse(url)``, then ``feedparser.parse(url, etag=, modified=)``
  ours      ``newsletter ingest`` in a new process each time (reading on), on a fresh SQLite
            file whose schema ``newsletter db upgrade`` created first

then the start-up of ``newsletter ingest`` (from starting the process to its first request),
the CPU per re-polled unchanged feed, and the CPU cost of parsing one feed.
Run: ``.venv/bin/python bench/bench_ingest.py``.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
from feedgen import is_chinese, make_feed
from harness import (
    feed_path,
    generated_feed_server,
    machine_summary,
    start_watchdog,
    write_config,
)

from newsletter.feeds.parse import parse_feed

FIRST_POLL_TARGET = 6.0
REPOLL_TARGET = 20.0
REPOLL_CPU_TARGET_MS = 1.0  # CPU per re-polled unchanged feed
STARTUP_TARGET = 0.5  # seconds from starting `newsletter ingest` to its first request


@dataclass
class Poll:
    """One timed poll of every feed."""

    label: str
    seconds: float
    feeds: int
    items: int  # items delivered by the server (first poll) or 0 (re-poll)
    statuses: Counter[str] = field(default_factory=Counter)
    note: str = ""
    cpu: float | None = None  # CPU seconds of the process and its children, when measured


def run_baseline(urls: list[str], timeout: float) -> tuple[Poll, Poll]:
    """rss2email's way: feedparser fetches and parses each URL in turn; then a 304 re-poll."""
    socket.setdefaulttimeout(timeout)  # feedparser has no timeout of its own
    validators: list[tuple[str | None, str | None]] = []
    statuses: Counter[str] = Counter()
    items = 0
    start, cpu = time.perf_counter(), time.process_time()
    for url in urls:
        result = feedparser.parse(url)
        statuses[str(result.get("status"))] += 1
        items += len(result.entries)
        validators.append((result.get("etag"), result.get("modified")))
    first = Poll("baseline first poll", time.perf_counter() - start, len(urls), items, statuses)
    first.cpu = time.process_time() - cpu
    statuses = Counter()
    start, cpu = time.perf_counter(), time.process_time()
    for url, (etag, modified) in zip(urls, validators, strict=True):
        result = feedparser.parse(url, etag=etag, modified=modified)
        statuses[str(result.get("status"))] += 1
    again = Poll("baseline re-poll", time.perf_counter() - start, len(urls), 0, statuses)
    again.cpu = time.process_time() - cpu
    socket.setdefaulttimeout(None)
    return first, again


NEWSLETTER = Path(sys.executable).parent / "newsletter"
SUMMARY = re.compile(r"(\d+) new items; (\d+) of (\d+) feeds failed")


def cli_env(folder: Path, **settings: Any) -> dict[str, str]:
    """The environment a user's `newsletter ingest` would have: NEWSLETTER_* settings only, and
    Python's bytecode cache on (PYTHONDONTWRITEBYTECODE, set on some build machines, would make
    every run compile the package's modules again, which no installed package does)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSLETTER_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    values: dict[str, Any] = {
        "config": folder / "feeds.yaml",
        "data_dir": folder,
        "database_url": f"sqlite:///{folder / 'bench.db'}",
        "allow_private_addresses": "true",
        "secret_key": "bench-secret",
        "base_url": "https://news.example.com",
        "mail_transport": "file",
        "log_level": "warning",
    }
    values.update(settings)
    env.update({f"NEWSLETTER_{k.upper()}": str(v) for k, v in values.items() if v is not None})
    return env


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds (user + system, from /proc) of ``root`` and every process below it, by pid.
    The parsing processes are children of the forkserver, which nobody waits for, so
    RUSAGE_CHILDREN would leave them out."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    tree = {root}
    grew = True
    while grew:
        below = {pid for pid, parent in parents.items() if parent in tree} - tree
        grew = bool(below)
        tree |= below
    return {pid: cpu[pid] for pid in tree if pid in cpu}


def run_cli(args: list[str], env: dict[str, str], timeout: float) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and all its descendants, stdout) of one
    command. CPU: the last /proc reading of each process of the tree (sampled every 0.1 s,
    so up to 0.1 s of a process that exits between samples is missed), or the process's own
    rusage when larger."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen([str(NEWSLETTER), *args], env=env, stdout=out, stderr=errors)
        seen: dict[int, float] = {}
        while process.poll() is None:
            seen.update(_tree_cpu(process.pid))
            if time.perf_counter() - start > timeout:
                process.kill()
                raise RuntimeError(f"newsletter {' '.join(args)} took over {timeout:g} s")
            time.sleep(0.1)
        seconds = time.perf_counter() - start
        out.seek(0)
        errors.seek(0)
        stdout, stderr = out.read(), errors.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(own, own - seen.get(process.pid, 0.0) + sum(seen.values()))
    if process.returncode != 0:
        raise RuntimeError(f"newsletter {' '.join(args)} failed: {stderr[-2000:]}")
    return seconds, cpu, stdout


def stored(folder: Path) -> tuple[int, Counter[str]]:
    """(items stored, feeds by last HTTP status) read from the bench's SQLite file."""
    with closing(sqlite3.connect(folder / "bench.db")) as conn:
        count = conn.execute("SELECT count(*) FROM item").fetchone()[0]
        rows = conn.execute("SELECT last_http_status, count(*) FROM feed GROUP BY 1").fetchall()
    return int(count), Counter({str(status): n for status, n in rows})


def run_ours(
    base_url: str, feeds: int, workers: int, concurrency: int | None, timeout: float
) -> tuple[Poll, Poll]:
    """`newsletter ingest` as a user runs it (a new process each time) on a fresh SQLite file
    whose schema `newsletter db upgrade` created first: a first poll, then a re-poll."""
    config = [
        {
            "name": f"Bench feed {i:05d}",
            "url": base_url + feed_path(i),
            "section": "industry" if i % 2 else "headlines",
            "language": "zh" if is_chinese(i) else "en",
        }
        for i in range(feeds)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        write_config(folder, config)
        env = cli_env(folder, parse_workers=workers, fetch_concurrency=concurrency)
        run_cli(["db", "upgrade"], env, timeout)
        polls = []
        for label in ("ours first poll", "ours re-poll"):
            seconds, cpu, output = run_cli(["ingest"], env, timeout)
            found = SUMMARY.search(output)
            new, failed = (int(found[1]), int(found[2])) if found else (-1, -1)
            _, statuses = stored(folder)
            note = f"{failed} feeds failed"
            polls.append(Poll(label, seconds, feeds, new, statuses, note, cpu))
        count, _ = stored(folder)
        polls[0].note += f"; {count} items in the database"
        polls[0].note += f"; NEWSLETTER_PARSE_WORKERS={workers}"
        if concurrency is not None:
            polls[0].note += f" NEWSLETTER_FETCH_CONCURRENCY={concurrency}"
    return polls[0], polls[1]


class TinyFeedServer:
    """One loopback feed that records when each request arrived (to time start-up): the
    first answer is a small RSS document with an ETag, later ones 304 Not Modified."""

    BODY = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>one</title><guid>1</guid></item></channel></rss>"
    )

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/feed.xml"
        self.arrivals: list[float] = []
        self.served = 0
        threading.Thread(target=self._serve, daemon=True, name="tiny-feed").start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    request += chunk
                self.arrivals.append(time.perf_counter())
                if b"if-none-match" in request.lower():
                    conn.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')
                else:
                    head = (
                        "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                        f'ETag: "v1"\r\nContent-Length: {len(self.BODY)}\r\n\r\n'
                    )
                    conn.sendall(head.encode() + self.BODY)
                self.served += 1

    def close(self) -> None:
        self.sock.close()


def run_startup(repeat: int, timeout: float) -> tuple[float, float]:
    """Median seconds from starting `newsletter ingest` (one feed, database up to date) to its
    first request reaching the server, and median CPU seconds of the whole 304 run."""
    server = TinyFeedServer()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        folder = Path(tmp)
        write_config(folder, [{"name": "Tiny", "url": server.url, "section": "headlines"}])
        env = cli_env(folder)
        run_cli(["ingest"], env, timeout)  # creates the schema and stores the one item
        waits, cpus = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            seen = len(server.arrivals)
            _, cpu, _ = run_cli(["ingest"], env, timeout)
            if len(server.arrivals) > seen:
                waits.append(server.arrivals[seen] - start)
            cpus.append(cpu)
    server.close()
    if not waits:
        raise RuntimeError("`newsletter ingest` never reached the start-up feed server")
    return statistics.median(waits), statistics.median(cpus)


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
    print(f"\n{'run':<22}{'seconds':>9}{'CPU s':>8}{'items/s':>10}{'feeds/s':>9}  speedup")
    for baseline, ours, target in rows:
        for poll in (baseline, ours):
            if poll is None:
                continue
            items = f"{poll.items / poll.seconds:,.0f}" if poll.items else "-"
            speed = _speedup(baseline, ours, target) if poll is ours else ""
            cpu = f"{poll.cpu:.2f}" if poll.cpu is not None else "-"
            print(
                f"{poll.label:<22}{poll.seconds:>9.2f}{cpu:>8}{items:>10}"
                f"{poll.feeds / poll.seconds:>9.1f}  {speed}"
            )
    print("items/s: items received and stored per second; a re-poll stores none (all 304).")
    print(
        "CPU s: the baseline's process; ours: the command and every process below it (its "
        "parsing processes included). On a shared host, compare CPU as well as wall time."
    )
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
        help="NEWSLETTER_PARSE_WORKERS (os.cpu_count())",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="NEWSLETTER_FETCH_CONCURRENCY (default: the setting's, 32)",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="time the CLI only")
    parser.add_argument(
        "--plain-content",
        action="store_true",
        help="feeds without the financing and event sentences (what the benchmark used before)",
    )
    parser.add_argument("--startup-runs", type=int, default=5, help="start-up runs (median)")
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
    facts = not args.plain_content
    print(f"content: {'every item has a financing or event sentence' if facts else 'plain'}")
    serving = generated_feed_server(
        args.feeds, args.items, args.latency, now, backlog=backlog, facts=facts
    )
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
        print("ours: newsletter ingest (CLI, new process each poll) ...", flush=True)
        ours = run_ours(base_url, args.feeds, args.workers, args.concurrency, timeout * 20)
    print("start-up: newsletter ingest, one feed, database up to date ...", flush=True)
    startup, startup_cpu = run_startup(args.startup_runs, timeout)
    print_table([(baseline[0], ours[0], FIRST_POLL_TARGET), (baseline[1], ours[1], REPOLL_TARGET)])
    repoll_cpu = ours[1].cpu or 0.0
    per_feed_ms = max(0.0, repoll_cpu - startup_cpu) / args.feeds * 1000
    verdict = "met" if startup <= STARTUP_TARGET else "MISSED"
    print(
        f"\nstart-up to the first request (median of {args.startup_runs}): {startup:.3f} s "
        f"(target <= {STARTUP_TARGET:g} s: {verdict}); a one-feed 304 run costs "
        f"{startup_cpu:.2f} s CPU"
    )
    verdict = "met" if per_feed_ms <= REPOLL_CPU_TARGET_MS else "MISSED"
    if repoll_cpu <= startup_cpu:
        verdict = "not measurable in this run: the re-poll cost less CPU than one start-up"
    print(
        f"CPU per re-polled unchanged feed: ({repoll_cpu:.2f} s - {startup_cpu:.2f} s) / "
        f"{args.feeds} = {per_feed_ms:.2f} ms (target <= {REPOLL_CPU_TARGET_MS:g} ms: {verdict})"
    )
    print(f"\nCPU to parse one feed (median of {args.parse_sample}, this process):")
    for label, value in parse_costs(args.items, args.parse_sample, now):
        print(f"  {label:<76}{value:8.1f}")
    expected = args.feeds * args.items
    problems = []
    if ours[0].items != expected or ours[1].statuses != Counter({"304": args.feeds}):
        problems.append(
            f"newsletter ingest stored {ours[0].items} of {expected} items or re-poll not all "
            f"304 ({dict(ours[1].statuses)})"
        )
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
    if startup > STARTUP_TARGET:
        missed.append("start-up")
    if per_feed_ms > REPOLL_CPU_TARGET_MS or repoll_cpu <= startup_cpu:
        missed.append("CPU per re-polled feed")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if missed:
        print(f"targets missed: {', '.join(missed)}")
    if args.quick:
        print("(--quick: too small for the targets, which are for 500 feeds of 50 items)")
    return 1 if args.strict and (missed or problems) else 0


if __name__ == "__main__":
    sys.exit(main())
