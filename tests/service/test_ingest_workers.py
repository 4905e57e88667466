"""Adaptive polling and ingest-worker claims over a real loopback server and a real database
(SQLite, and PostgreSQL when NEWSLETTER_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.service.app import App
from newsletter.service.catalog import feed_health
from newsletter.service.ingest import ingest
from newsletter.service.ingest_workers import run_ingest_worker
from newsletter.storage.db import session_scope
from newsletter.storage.models import Feed
from newsletter.storage.queries import feed_claims, feeds
from tests.helpers import rss


def serve(
    server: FeedServer, path: str, per_week: int, now: datetime, **route: Any
) -> dict[str, Any]:
    """A feed with ``per_week`` entries spread over the last week (and a few older ones)."""
    step = timedelta(days=7) / (per_week + 1)
    items = [(f"{path} story {i}", f"{path}-{i}", now - step * (i + 1)) for i in range(per_week)]
    items += [
        (f"{path} old {i}", f"{path}-old-{i}", now - timedelta(days=30 + i)) for i in range(3)
    ]
    server.routes[path] = Route(rss(items), "application/rss+xml", **route)
    name = path.strip("/")
    return {"name": name, "url": server.url(path), "section": "headlines", "language": "en"}


def rows(app: App) -> dict[str, Feed]:
    with session_scope(app.engine) as session:
        return {f.name: f for f in feeds.all_feeds(session)}


def requests_per_path(server: FeedServer) -> Counter[str]:
    with server.lock:
        return Counter(path for path, _headers in server.requests)


def test_next_poll_follows_posting_frequency_and_cache_hints(
    feed_server: FeedServer, make_app: Any
) -> None:
    now = datetime.now(UTC)
    config = [
        serve(feed_server, "/daily", 14, now),  # 14 a week: every 12 h
        serve(feed_server, "/busy", 190, now),  # every 53 min: held to the 60 min minimum
        serve(feed_server, "/quiet", 0, now),  # silent for a week: the 24 h maximum
        serve(feed_server, "/cached", 336, now, headers={"Cache-Control": "max-age=7200"}),
    ]
    ttl = serve(feed_server, "/ttl", 100, now)  # every 101 min, but <ttl> says 300
    route = feed_server.routes["/ttl"]
    route.body = route.body.replace(b"<title>Test feed</title>", b"<title>T</title><ttl>300</ttl>")
    feed_server.routes["/limited"] = Route(
        b"slow down", "text/plain", status=429, headers={"Retry-After": "172800"}
    )
    config += [
        ttl,
        {"name": "limited", "url": feed_server.url("/limited"), "section": "headlines"},
    ]
    app = make_app(config, poll_min_minutes=60, poll_max_minutes=1440, parse_workers=1)
    report = ingest(app, now=now)
    assert {o.name: o.status for o in report.outcomes}["limited"] == "error"
    got = rows(app)
    expected = {
        "daily": (timedelta(hours=12), "14 entries in the last 7 days"),
        "busy": (timedelta(minutes=60), "held to the minimum"),
        "quiet": (timedelta(hours=24), "no entries in the last 7 days"),
        "cached": (timedelta(hours=2), "Cache-Control max-age 2 h"),
        "ttl": (timedelta(hours=5), "RSS ttl 5 h"),
        "limited": (timedelta(days=2), "Retry-After"),  # past the maximum: the server asked
    }
    for name, (interval, reason) in expected.items():
        assert got[name].poll_due_at == now + interval, name
        assert reason in (got[name].poll_reason or ""), (name, got[name].poll_reason)
    assert got["daily"].weekly_entries == 14
    # A 304 keeps the frequency learnt from the last body: the 304s of one poll are stored in
    # one batch (one UPDATE), yet each feed gets its own next poll time and reason.
    later = now + timedelta(hours=13)
    ingest(app, now=later, only={"daily", "quiet", "cached"})
    got = rows(app)
    daily = got["daily"]
    assert daily.last_status == "not_modified" and daily.weekly_entries == 14
    assert daily.poll_due_at == later + timedelta(hours=12)
    assert "14 entries in the last 7 days" in (daily.poll_reason or "")
    assert got["quiet"].last_status == "not_modified"
    assert got["quiet"].poll_due_at == later + timedelta(hours=24)
    assert "no entries in the last 7 days" in (got["quiet"].poll_reason or "")
    # The 304 carries no Cache-Control: the frequency alone (held to the minimum).
    assert got["cached"].last_status == "not_modified"
    assert got["cached"].poll_due_at == later + timedelta(minutes=60)
    assert "held to the minimum" in (got["cached"].poll_reason or "")
    # `newsletter feeds` shows it.
    health = {h.name: h for h in feed_health(app)}
    assert health["daily"].next_poll == (later + timedelta(hours=12)).isoformat()
    assert health["limited"].next_poll == (now + timedelta(days=2)).isoformat()


def test_claims_never_overlap_and_a_lapsed_lease_is_taken_again(make_app: Any) -> None:
    config = [
        {"name": f"f{i}", "url": f"https://example.com/{i}.xml", "section": "headlines"}
        for i in range(8)
    ]
    config.append(
        {
            "name": "off",
            "url": "https://example.com/off.xml",
            "section": "headlines",
            "enabled": False,
        }
    )
    app = make_app(config)
    now = datetime.now(UTC)
    lease = now + timedelta(minutes=5)
    with session_scope(app.engine) as session:
        feeds.sync_feed_table(session, app.config.feeds)
        synced = {f.name: f for f in feeds.all_feeds(session)}  # ORM rows, to change
        synced["f6"].poll_due_at = now + timedelta(hours=1)  # not due yet
        synced["f7"].auto_disabled_at = now  # disabled by polling
    with session_scope(app.engine) as session:
        a = feed_claims.claim_due_feeds(session, now, lease, "A", 3)
    with session_scope(app.engine) as session:
        b = feed_claims.claim_due_feeds(session, now, lease, "B", 10)
    with session_scope(app.engine) as session:
        assert feed_claims.claim_due_feeds(session, now, lease, "C", 10) == []
    assert len(a) == 3 and len(b) == 3 and not set(a) & set(b)
    by_id = {f.id: f.name for f in rows(app).values()}
    assert {by_id[i] for i in a + b} == {f"f{i}" for i in range(6)}
    with session_scope(app.engine) as session:
        # Only the holder renews or gives back.
        assert feed_claims.renew_feed_leases(session, "B", a, lease) == set()
        assert feed_claims.release_feeds(session, "B", a) == 0
        assert feed_claims.renew_feed_leases(session, "A", a, lease) == set(a)
    # A dies: once its lease has run out, C takes its feeds (and only those).
    after = lease + timedelta(seconds=1)
    with session_scope(app.engine) as session:
        taken = feed_claims.claim_due_feeds(session, after, after + timedelta(minutes=5), "C", 10)
    assert set(a) | set(b) <= set(taken)  # B's lease ran out too
    with session_scope(app.engine) as session:
        assert feed_claims.release_feeds(session, "C", taken) == len(taken)
    assert all(f.lease_owner is None for f in rows(app).values())


def test_a_worker_polls_each_due_feed_once_and_gives_the_claims_back(
    feed_server: FeedServer, make_app: Any
) -> None:
    now = datetime.now(UTC)
    config = [serve(feed_server, f"/w{i}", 3, now) for i in range(12)]
    feed_server.routes["/w0"].status = 500  # a failing feed is recorded, not retried at once
    app = make_app(config, ingest_batch=5, parse_workers=1)
    stop = threading.Event()
    report = run_ingest_worker(app, stop, once=True)
    assert report.polled == 12 and report.failed == 1 and report.batches == 3
    assert report.new_items == 11 * 6
    assert requests_per_path(feed_server) == Counter({f"/w{i}": 1 for i in range(12)})
    # Nothing is due again yet: a second pass polls nothing.
    again = run_ingest_worker(app, stop, once=True)
    assert again.polled == 0
    assert sum(requests_per_path(feed_server).values()) == 12
    stored = rows(app)
    assert all(f.lease_owner is None and f.lease_until is None for f in stored.values())
    assert all(f.poll_due_at is not None and f.poll_due_at > now for f in stored.values())
    assert stored["w0"].last_status == "error" and stored["w1"].last_status == "ok"


def test_a_stopped_worker_polls_nothing(feed_server: FeedServer, make_app: Any) -> None:
    now = datetime.now(UTC)
    app = make_app([serve(feed_server, "/x", 3, now)])
    stop = threading.Event()
    stop.set()
    assert run_ingest_worker(app, stop).polled == 0
    assert requests_per_path(feed_server) == Counter()


def test_poll_bounds_in_the_wrong_order_are_one_clear_error() -> None:
    from newsletter.config import load_settings
    from newsletter.errors import ConfigError

    with pytest.raises(ConfigError, match=r"NEWSLETTER_POLL_MIN_MINUTES \(120\) is more than"):
        load_settings(poll_min_minutes=120, poll_max_minutes=60)


def test_the_scheduled_poll_takes_only_due_unclaimed_feeds(
    feed_server: FeedServer, make_app: Any
) -> None:
    from newsletter.service.ingest_workers import poll_due_feeds

    now = datetime.now(UTC)
    app = make_app([serve(feed_server, f"/s{i}", 3, now) for i in range(4)], parse_workers=1)
    with session_scope(app.engine) as session:
        feeds.sync_feed_table(session, app.config.feeds)
        synced = {f.name: f for f in feeds.all_feeds(session)}  # ORM rows, to change
        synced["s1"].poll_due_at = now + timedelta(minutes=1)  # within the slack: polled
        synced["s2"].poll_due_at = now + timedelta(hours=3)  # not due
        synced["s3"].lease_owner = "another worker"  # held by a live lease
        synced["s3"].lease_until = now + timedelta(minutes=5)
    report = poll_due_feeds(app)
    assert report.polled == 2
    assert requests_per_path(feed_server) == Counter({"/s0": 1, "/s1": 1})
    assert poll_due_feeds(app).polled == 0  # nothing is due again yet
    assert rows(app)["s3"].lease_owner == "another worker"


def test_newsletter_feeds_shows_the_next_poll_and_why(
    feed_server: FeedServer, make_app: Any, tmp_path: Any, database_url: str
) -> None:
    import json

    from click.testing import CliRunner

    from newsletter.cli import main

    now = datetime.now(UTC)
    app = make_app([serve(feed_server, "/daily", 14, now)], parse_workers=1)
    ingest(app, now=now)
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_CONFIG": str(tmp_path / "feeds.yaml"),
        "COLUMNS": "250",
    }
    table = CliRunner().invoke(main, ["feeds"], env=env)
    assert table.exit_code == 0, table.output
    due = now + timedelta(hours=12)
    assert f"{due:%Y-%m-%d %H:%M} (14 entries in the last 7 days)" in table.output
    data = json.loads(CliRunner().invoke(main, ["feeds", "--format", "json"], env=env).output)
    assert data[0]["next_poll"] == due.isoformat()
    assert data[0]["poll_reason"] == "14 entries in the last 7 days"


def test_a_stop_during_a_batch_starts_no_new_request_and_gives_the_rest_back(
    make_app: Any,
) -> None:
    """One request at a time; the stop comes while H is in flight: H and the feeds before it
    are stored, the feeds after it are never requested, given back untouched (still due), and
    the next pass polls exactly them. What `newsletter run`'s scheduled poll and
    `ingest-worker` do on their first signal."""
    import time

    from newsletter.service.ingest_workers import poll_due_feeds
    from tests.hostile_server import HeldRoute, HostileFeedServer

    names = ["A0", "A1", "H", "R0", "R1"]
    now = datetime.now(UTC)
    with HostileFeedServer() as server:
        entries = []
        for name in names:
            items = [
                (f"{name} story {i}", f"{name}-{i}", now - timedelta(hours=i + 1)) for i in range(3)
            ]
            route = HeldRoute(rss(items), "application/rss+xml")
            if name != "H":
                route.release.set()
            server.routes[f"/{name}.xml"] = route
            entries.append(
                {"name": name, "url": server.url(f"/{name}.xml"), "section": "headlines"}
            )
        app = make_app(entries, parse_workers=1, fetch_concurrency=1)
        held = server.routes["/H.xml"]
        assert isinstance(held, HeldRoute)
        stop = threading.Event()

        def requested() -> list[str]:
            with server.lock:
                return [path.strip("/").removesuffix(".xml") for path, _ in server.requests]

        def stop_while_h_is_out() -> None:
            deadline = time.monotonic() + 60
            while "H" not in requested() and time.monotonic() < deadline:
                time.sleep(0.01)
            stop.set()
            held.release.set()

        stopper = threading.Thread(target=stop_while_h_is_out, daemon=True)
        stopper.start()
        report = run_ingest_worker(app, stop, once=True)
        stopper.join(timeout=30)
        polled = requested()
        assert polled[-1] == "H"  # no request started after the stop
        assert report.polled == len(polled) and report.failed == 0
        left = [name for name in names if name not in polled]
        assert left, "every feed was requested before H: nothing to check"
        state = rows(app)
        for name in left:
            assert state[name].lease_owner is None  # given back
            assert state[name].last_fetched_at is None and state[name].last_error is None
            assert state[name].consecutive_failures == 0
        for name in polled:
            assert state[name].last_status == "ok"

        server.requests.clear()
        again = poll_due_feeds(app)
        assert sorted(requested()) == sorted(left)
    assert again.polled == len(left) and again.new_items == 3 * len(left)
