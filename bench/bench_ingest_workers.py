"""Benchmark: `newsletter ingest-worker` processes on PostgreSQL, 1 and 2 of them, at scale.

Polls N generated feeds (bench/feedgen.py: RSS with ~2 KB English or Chinese descriptions, the
reading on) from a loopback server in its own process, into a fresh PostgreSQL schema, with
one worker and then two (`newsletter ingest-worker --once`, each a whole process as a user runs
it, started together; timed from start until every worker has exited: nothing left due). Each
worker parses in-process (NEWSLETTER_PARSE_WORKERS=1), so a worker is about one core of work.
Reports feeds per second, the two-worker speed-up, and each worker's peak RSS (getrusage in
the worker at exit); also one worker on a tenth of the feeds, for the memory ratio.

Targets: two workers >= 1.7x one worker; peak memory at N feeds within 1.2x of N/10 feeds.

Run (PostgreSQL at 127.0.0.1:5432, user postgres, database test; --database-url to change):
``.venv/bin/python bench/bench_ingest_workers.py`` (10,000 feeds of 5 items), ``--quick``
(1,000 feeds: a smoke run), ``--feeds N --items K``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from feedgen import is_chinese
from harness import (
    feed_path,
    generated_feed_server,
    machine_summary,
    start_watchdog,
    write_config,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# The worker as a user runs it (the CLI), plus its peak RSS written at exit.
WORKER = """
import atexit, resource, sys
from newsletter.cli import main
out = sys.argv[1]
def report():
    with open(out, "w") as handle:
        handle.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
atexit.register(report)
sys.argv = ["newsletter", "ingest-worker", "--once", "--idle", "0.5"]
main()
"""


@dataclass(frozen=True)
class Run:
    """One timed run: how many workers polled how many feeds, how fast, in how much memory."""

    label: str
    workers: int
    feeds: int
    seconds: float
    polled: int
    peak_rss_mb: list[float]
    per_worker: list[int]  # feeds each worker says it polled

    @property
    def feeds_per_second(self) -> float:
        return self.polled / self.seconds


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A new PostgreSQL schema for one run; the URL that uses it."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def polled_count(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM feed WHERE last_fetched_at IS NOT NULL")
                ).scalar_one()
            )
    finally:
        engine.dispose()


def migrate(url: str, config: Path, folder: Path) -> None:
    """Create the tables and the feed rows before timing (as a deployed database has them)."""
    env = _env(url, config, folder)
    subprocess.run(
        [sys.executable, "-m", "newsletter", "db", "upgrade"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _env(url: str, config: Path, folder: Path) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": url,
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATA_DIR": str(folder),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_PARSE_WORKERS": "1",
        "NEWSLETTER_INGEST_BATCH": "50",
        "NEWSLETTER_FETCH_CONCURRENCY": "16",
        "NEWSLETTER_LOG_LEVEL": "WARNING",
    }


def run_workers(
    label: str, base_url: str, feeds: int, workers: int, database_url: str, root: Path
) -> Run:
    folder = Path(tempfile.mkdtemp(dir=root))
    config = write_config(
        folder,
        [
            {
                "name": f"Feed {i:05d}",
                "url": base_url + feed_path(i),
                "section": "headlines",
                "language": "zh" if is_chinese(i) else "en",
            }
            for i in range(feeds)
        ],
    )
    with fresh_schema(database_url) as url:
        migrate(url, config, folder)
        env = _env(url, config, folder)
        rss_files = [folder / f"rss-{n}.txt" for n in range(workers)]
        start = time.perf_counter()
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(path)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for path in rss_files
        ]
        per_worker = []
        for process in processes:
            _out, err = process.communicate()
            match = re.search(r"stopped \((\d+) feeds polled", err)
            per_worker.append(int(match.group(1)) if match else -1)
            if process.returncode != 0:
                raise RuntimeError(
                    f"{label}: a worker failed ({process.returncode}): {err[-2000:]}"
                )
        seconds = time.perf_counter() - start
        polled = polled_count(url)
    peaks = [int(path.read_text()) / 1024 for path in rss_files]
    return Run(label, workers, feeds, seconds, polled, peaks, per_worker)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--feeds", type=int, default=10_000, help="feeds (10,000)")
    parser.add_argument("--items", type=int, default=5, help="items per feed (5)")
    parser.add_argument("--quick", action="store_true", help="1,000 feeds: a smoke run")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_URL))
    parser.add_argument("--time-limit", type=float, default=3600, help="abort after this (s)")
    args = parser.parse_args()
    if args.quick:
        args.feeds = 1_000
    start_watchdog(args.time_limit)
    print(machine_summary())
    print(
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}\n"
        f"{args.feeds:,} feeds x {args.items} items, PostgreSQL, workers parse in-process",
        flush=True,
    )
    now = datetime.now(UTC)
    small = max(1, args.feeds // 10)
    runs: list[Run] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        generated_feed_server(args.feeds, args.items, 0.0, now) as (base_url, total_bytes),
    ):
        root = Path(tmp)
        print(f"server: {total_bytes / 1e6:.1f} MB of feeds on {base_url}", flush=True)
        plan = [
            (f"1 worker, {small:,} feeds", small, 1),
            (f"1 worker, {args.feeds:,} feeds", args.feeds, 1),
            (f"2 workers, {args.feeds:,} feeds", args.feeds, 2),
        ]
        for label, feeds, workers in plan:
            print(f"{label} ...", flush=True)
            runs.append(run_workers(label, base_url, feeds, workers, args.database_url, root))
    print(
        f"\n{'run':<26}{'seconds':>9}{'polled':>8}{'feeds/s':>9}  peak RSS per worker (MB)"
        "  polled per worker"
    )
    for r in runs:
        peaks = ", ".join(f"{p:.0f}" for p in r.peak_rss_mb)
        shares = ", ".join(str(n) for n in r.per_worker)
        print(
            f"{r.label:<26}{r.seconds:9.1f}{r.polled:8,}{r.feeds_per_second:9.1f}  {peaks:<24}  "
            f"{shares}"
        )
    small_run, one, two = runs
    speedup = two.feeds_per_second / one.feeds_per_second
    memory = max(one.peak_rss_mb) / max(small_run.peak_rss_mb)
    print(f"\ntwo workers / one worker: {speedup:.2f}x (target >= 1.7x)")
    print(
        f"peak RSS, {one.feeds:,} feeds / {small_run.feeds:,} feeds (one worker): "
        f"{memory:.2f}x (target <= 1.2x)"
    )
    missed = [r.label for r in runs if r.polled != r.feeds]
    if missed:
        print(f"PROBLEM: not every feed was polled in: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
