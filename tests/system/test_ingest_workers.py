"""Ingest worker processes against one database: two workers poll a set of loopback feeds and
none is polled twice; a SIGKILLed worker's feeds are polled by the other once its lease runs
out; SIGTERM gives every claim back and exits 0 (PostgreSQL, and the SQLite file)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.service.app import App
from newsletter.storage.db import session_scope
from newsletter.storage.models import Feed
from newsletter.storage.queries import feeds
from tests.helpers import rss

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not
WAIT = 120.0  # generous: these are waits for events on a busy machine, not speed limits


def serve(server: FeedServer, count: int, delay: float = 0.0) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    config = []
    for n in range(count):
        items = [
            (f"Feed {n} story {i}", f"f{n}-{i}", now - timedelta(hours=i + 1)) for i in range(3)
        ]
        server.routes[f"/f{n}.xml"] = Route(rss(items), "application/rss+xml", delay=delay)
        config.append({"name": f"f{n}", "url": server.url(f"/f{n}.xml"), "section": "headlines"})
    return config


def postgresql_only(database_url: str) -> None:
    """Several workers are the multi-machine path, which is PostgreSQL's (they also pass on
    SQLite, one machine: kept to one database to keep the suite's time down)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several ingest workers: run on PostgreSQL (NEWSLETTER_TEST_POSTGRES_URL)")


def requests_per_path(server: FeedServer) -> Counter[str]:
    with server.lock:
        return Counter(path for path, _headers in server.requests)


def stored(app: App) -> dict[str, Feed]:
    with session_scope(app.engine) as session:
        return {f.name: f for f in feeds.all_feeds(session)}


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `newsletter ingest-worker` processes; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []

    def start(app: App, config: Path, **settings: Any) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "NEWSLETTER_DATABASE_URL": app.settings.resolved_database_url,
            "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
            "NEWSLETTER_CONFIG": str(config),
            "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
            "NEWSLETTER_PARSE_WORKERS": "1",
            "NEWSLETTER_LOG_LEVEL": "INFO",
        }
        env.update({f"NEWSLETTER_{k.upper()}": str(v) for k, v in settings.items()})
        process = subprocess.Popen(
            [sys.executable, "-m", "newsletter", "ingest-worker", "--idle", "0.2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, then the exit code must be 0; returns what it wrote on stderr."""
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 0, err
    return err


def test_two_workers_poll_every_feed_once(
    feed_server: FeedServer, make_app: Any, tmp_path: Path, workers: Any, database_url: str
) -> None:
    postgresql_only(database_url)
    config = serve(feed_server, 60, delay=0.05)
    app = make_app(config)
    # Every feed falls due a moment from now, once both workers are up and looking.
    due = datetime.now(UTC) + timedelta(seconds=4)
    with session_scope(app.engine) as session:
        feeds.sync_feed_table(session, app.config.feeds)
        for feed in feeds.all_feeds(session):
            feed.poll_due_at = due
    path = tmp_path / "feeds.yaml"
    first = workers(app, path, ingest_batch=4)
    second = workers(app, path, ingest_batch=4)
    wait_for(
        lambda: all(f.last_success_at is not None for f in stored(app).values()),
        "every feed to be polled",
    )
    time.sleep(1.0)  # both workers look again (every 0.2 s): nothing is due any more
    logs = [stop(first), stop(second)]
    assert requests_per_path(feed_server) == Counter({f"/f{n}.xml": 1 for n in range(60)})
    rows = stored(app).values()
    assert all(f.lease_owner is None and f.lease_until is None for f in rows)
    assert all(f.last_fetched_at is not None and f.last_fetched_at >= due for f in rows)
    polled = [int(log.rsplit("stopped (", 1)[1].split()[0]) for log in logs]
    assert sum(polled) == 60, polled


def test_a_killed_workers_feeds_are_polled_by_the_other_after_its_lease(
    feed_server: FeedServer, make_app: Any, tmp_path: Path, workers: Any, database_url: str
) -> None:
    postgresql_only(database_url)
    config = serve(feed_server, 6, delay=60.0)  # the first worker hangs on every feed
    app = make_app(config)
    path = tmp_path / "feeds.yaml"
    lease = {"ingest_lease_seconds": 3, "ingest_batch": 10, "fetch_timeout": 90}
    doomed = workers(app, path, **lease)
    wait_for(lambda: len(requests_per_path(feed_server)) == 6, "the first worker's requests")
    held = stored(app)
    assert {f.lease_owner for f in held.values()} != {None}
    survivor = workers(app, path, **lease)
    time.sleep(4.0)  # the heartbeat keeps the lease alive longer than one lease
    assert all(f.last_fetched_at is None for f in stored(app).values())
    for route in feed_server.routes.values():
        route.delay = 0.0
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate()
    killed_at = datetime.now(UTC)
    leases = [f.lease_until for f in stored(app).values()]
    assert all(lease is not None for lease in leases)
    wait_for(
        lambda: all(f.last_success_at is not None for f in stored(app).values()),
        "the second worker to poll the killed worker's feeds",
    )
    rows = stored(app)
    # Taken only once the lease had run out, never while the first worker held it.
    expiry = max(lease for lease in leases if lease is not None)
    assert all(f.last_fetched_at is not None and f.last_fetched_at >= expiry for f in rows.values())
    assert expiry <= killed_at + timedelta(seconds=3.5)
    assert requests_per_path(feed_server) == Counter({f"/f{n}.xml": 2 for n in range(6)})
    assert "6 feeds polled" in stop(survivor)
    assert all(f.lease_owner is None for f in stored(app).values())


def test_sigterm_finishes_the_batch_in_hand_and_gives_the_rest_back(
    feed_server: FeedServer, make_app: Any, tmp_path: Path, workers: Any
) -> None:
    config = serve(feed_server, 3, delay=1.5)
    app = make_app(config)
    process = workers(app, tmp_path / "feeds.yaml", ingest_batch=2)
    wait_for(lambda: len(requests_per_path(feed_server)) >= 1, "the first request")
    err = stop(process)
    rows = stored(app)
    polled = [f for f in rows.values() if f.last_success_at is not None]
    assert len(polled) == 2 and "2 feeds polled" in err  # the batch in hand, finished
    assert all(f.lease_owner is None and f.lease_until is None for f in rows.values())
    assert "Traceback" not in err
