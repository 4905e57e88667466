"""Benchmark: how long web writes wait while `newsletter subscribers import` runs on SQLite.

Two parts, each on a fresh SQLite file:

1. ``batches``: ``import_csv`` of N rows in this process, timing each batch's transaction (how
   long SQLite's one write lock is held at a time).
2. ``web``: a real `newsletter serve` and `newsletter subscribers import` (both subprocesses,
   as an operator runs them) on the same file; three loopback clients send one-click
   unsubscribes and click redirects while the import writes. Prints each request kind's
   median, 95th percentile and slowest answer, and any 5xx.

Run: ``.venv/bin/python bench/bench_web_import.py`` (``--rows 40000``; ``--only batches|web``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
from harness import ROOT, machine_summary, start_watchdog

sys.path.insert(0, str(ROOT))

from newsletter.config import Settings
from newsletter.service import subscribers as service
from newsletter.service.app import open_app
from newsletter.storage.queries import subscribers as queries
from tests.conftest import write_config
from tests.smtp_server import free_port
from tests.web_helpers import FEEDS, add_issue, add_link, add_row

SECRET = "bench-secret"


def write_csv(path: Path, rows: int) -> None:
    lines = ["email,name"] + [f"import{i}@example{i % 50}.org,Reader {i}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def bench_batches(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_config(folder, FEEDS)
        app = open_app(
            Settings(data_dir=folder / "data", database_url=f"sqlite:///{folder / 'b.db'}"),
            config,
        )
        write_csv(folder / "s.csv", rows)
        held: list[float] = []
        original = queries.add_subscribers

        def timed_add(*args: object, **kwargs: object) -> queries.BatchOutcome:
            # The write lock is taken at the INSERT and held to the commit, just after this.
            started = time.perf_counter()
            outcome = original(*args, **kwargs)  # type: ignore[arg-type]
            held.append(time.perf_counter() - started)
            return outcome

        queries.add_subscribers = timed_add  # type: ignore[assignment]
        started = time.perf_counter()
        report = service.import_csv(app, folder / "s.csv")
        total = time.perf_counter() - started
        queries.add_subscribers = original
        app.engine.dispose()
    held.sort()
    print(
        f"batches: {report.added} rows in {total:.1f} s ({len(held)} batches of "
        f"{service.IMPORT_BATCH}); write per batch median {statistics.median(held) * 1000:.0f} ms, "
        f"max {held[-1] * 1000:.0f} ms"
    )


def _env(folder: Path, base_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "NEWSLETTER_CONFIG": str(folder / "feeds.yaml"),
        "NEWSLETTER_DATA_DIR": str(folder / "data"),
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{folder / 'web.db'}",
        "NEWSLETTER_OUTBOX_DIR": str(folder / "outbox"),
        "NEWSLETTER_BASE_URL": base_url,
        "NEWSLETTER_SECRET_KEY": SECRET,
    }


def bench_web(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_config(folder, FEEDS)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = _env(folder, base_url)
        app = open_app(
            Settings(
                data_dir=folder / "data",
                database_url=env["NEWSLETTER_DATABASE_URL"],
                secret_key=SECRET,
            ),
            folder / "feeds.yaml",
        )
        readers = [add_row(app, f"reader{i}@example.com", "active") for i in range(400)]
        issue = add_issue(app, "2026-W46")
        assert issue.id is not None
        link = add_link(app, issue.id, "https://example.com/story", "benchtoken1")
        write_csv(folder / "s.csv", rows)
        newsletter = [sys.executable, "-m", "newsletter"]
        server = subprocess.Popen(
            [*newsletter, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base_url}/archive", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            tokens = iter(r.token for r in readers)
            lock = threading.Lock()
            latency: dict[str, list[float]] = {"unsubscribe": [], "click": []}
            statuses: Counter[str] = Counter()
            done = threading.Event()

            def client() -> None:
                with httpx.Client(base_url=base_url, timeout=60) as http:
                    while not done.is_set():
                        with lock:
                            token = next(tokens, None)
                        if token is None:
                            return
                        for kind, method, path in (
                            ("unsubscribe", "POST", f"/unsubscribe/{token}"),
                            ("click", "GET", f"/c/{link.token}"),
                        ):
                            started = time.perf_counter()
                            answer = http.request(method, path)
                            latency[kind].append(time.perf_counter() - started)
                            statuses[f"{kind} {answer.status_code}"] += 1
                        time.sleep(0.05)

            started = time.perf_counter()
            importer = subprocess.Popen(
                [*newsletter, "subscribers", "import", str(folder / "s.csv")],
                env=env,
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.5)  # the importer's start-up (imports, reading the CSV)
            threads = [threading.Thread(target=client) for _ in range(3)]
            for thread in threads:
                thread.start()
            importer.wait()
            import_seconds = time.perf_counter() - started
            done.set()
            for thread in threads:
                thread.join()
        finally:
            server.terminate()
            server.wait()
            app.engine.dispose()
    print(f"web: import of {rows} rows took {import_seconds:.1f} s (command, start to end)")
    for kind, values in latency.items():
        values.sort()
        p95 = values[int(len(values) * 0.95)]
        print(
            f"  {kind}: {len(values)} requests, median {statistics.median(values) * 1000:.0f} ms, "
            f"p95 {p95 * 1000:.0f} ms, max {values[-1] * 1000:.0f} ms"
        )
    print(f"  answers: {dict(statuses)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--only", choices=["batches", "web"])
    args = parser.parse_args()
    start_watchdog(900)
    print(machine_summary())
    if args.only in (None, "batches"):
        bench_batches(args.rows)
    if args.only in (None, "web"):
        bench_web(args.rows)


if __name__ == "__main__":
    main()
