"""Ingest's batched writes: one transaction per batch of feeds, yet atomic per feed. A feed the
database refuses loses nothing of the others, and itself keeps nothing half-written."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from newsletter.demo.server import FeedServer, Route
from newsletter.errors import ModelError
from newsletter.service.catalog import feed_health
from newsletter.service.ingest import (
    BatchWriter,
    FeedOutcome,
    FeedWrite,
    PollStop,
    feed_job,
    ingest,
    poll_jobs,
)
from newsletter.service.parsing import FeedJob, parse_pool
from newsletter.storage.db import session_scope
from newsletter.storage.queries import feeds
from tests.helpers import rss
from tests.hostile_server import HeldRoute, HostileFeedServer

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def module_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def server(module_server: FeedServer) -> FeedServer:
    module_server.routes.clear()
    module_server.requests.clear()
    return module_server


def serve(server: FeedServer, count: int, poison: int | None = None) -> list[dict[str, Any]]:
    """``count`` feeds of three items each; feed number ``poison`` has a title the test's
    trigger refuses. Returns their feeds.yaml entries."""
    when = datetime.now(UTC) - HOUR
    entries = []
    for n in range(count):
        word = "poison" if n == poison else "fine"
        items = [(f"Feed {n} {word} story {i}", f"f{n}-{i}", when - i * HOUR) for i in range(3)]
        server.routes[f"/f{n}.xml"] = Route(rss(items), "application/rss+xml")
        entries.append({"name": f"F{n}", "url": server.url(f"/f{n}.xml"), "section": "headlines"})
    return entries


def refuse_poison(app: Any) -> None:
    """A real database refusal: a trigger that aborts inserting an item titled '...poison...'."""
    with app.engine.begin() as conn:
        if app.engine.dialect.name == "sqlite":
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON item "
                    "WHEN NEW.title LIKE '%poison%' BEGIN SELECT RAISE(ABORT, 'poison refused'); END"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.title LIKE '%poison%' THEN RAISE EXCEPTION 'poison refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON item "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )


def allow_poison(app: Any) -> None:
    with app.engine.begin() as conn:
        if app.engine.dialect.name == "sqlite":
            conn.execute(sa.text("DROP TRIGGER refuse_poison"))
        else:
            conn.execute(sa.text("DROP TRIGGER refuse_poison ON item"))


def stored_titles(app: Any) -> dict[str, int]:
    """Items stored per feed name."""
    with app.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT feed.name, count(item.id) FROM feed LEFT JOIN item "
                "ON item.feed_id = feed.id GROUP BY feed.name"
            )
        ).all()
    return {name: count for name, count in rows}


def test_a_feed_the_database_refuses_loses_nothing_of_the_others(
    make_app: Any, server: FeedServer
) -> None:
    app = make_app(feeds=serve(server, 6, poison=2))
    refuse_poison(app)
    report = ingest(app)

    by_name = {o.name: o for o in report.outcomes}
    assert by_name["F2"].status == "error"
    assert "storing items failed" in (by_name["F2"].error or "")
    assert by_name["F2"].new_items == 0
    assert all(by_name[f"F{n}"].status == "ok" for n in (0, 1, 3, 4, 5))
    assert all(by_name[f"F{n}"].new_items == 3 for n in (0, 1, 3, 4, 5))
    assert report.new_items == 15
    # The refused feed kept nothing half-written: no items and no new state (no validators,
    # no body hash), so the next poll fetches and stores it in full.
    assert stored_titles(app) == {"F0": 3, "F1": 3, "F2": 0, "F3": 3, "F4": 3, "F5": 3}
    health = {row.name: row for row in feed_health(app)}
    assert health["F0"].status == "ok" and health["F0"].last_http_status == 200
    assert health["F2"].status == "never"
    with session_scope(app.engine) as session:
        refused = feeds.all_feeds(session)[2]
        assert refused.name == "F2" and refused.etag is None and refused.body_hash is None

    allow_poison(app)
    again = {o.name: o for o in ingest(app).outcomes}
    assert again["F2"].status == "ok" and again["F2"].new_items == 3
    assert again["F0"].status == "not_modified"
    assert stored_titles(app)["F2"] == 3


def test_a_re_poll_of_unchanged_feeds_records_each_feeds_health(
    make_app: Any, server: FeedServer
) -> None:
    app = make_app(feeds=serve(server, 5))
    assert ingest(app).new_items == 15
    # F1 fails once in between: its error and failure count must be cleared by the 304 after.
    server.routes["/f1.xml"].status = 500
    failed = {o.name: o.status for o in ingest(app).outcomes}
    assert failed["F1"] == "error"
    assert {row.name: row.consecutive_failures for row in feed_health(app)}["F1"] == 1
    server.routes["/f1.xml"].status = 200

    report = ingest(app)
    assert {o.status for o in report.outcomes} == {"not_modified"}
    assert report.new_items == 0
    for row in feed_health(app):
        assert row.status == "not_modified"
        assert row.last_http_status == 304
        assert row.consecutive_failures == 0 and row.last_error is None
    assert stored_titles(app) == {f"F{n}": 3 for n in range(5)}


def test_each_feed_is_reported_only_after_its_write(make_app: Any, server: FeedServer) -> None:
    """Progress sees a feed once its items are in the database (a crash after it loses
    nothing that was reported), in batches of at most max_feeds."""
    app = make_app(feeds=serve(server, 5))
    with session_scope(app.engine) as session:
        synced = feeds.sync_feeds(session, app.config.feeds)
    jobs = {
        name: FeedJob(f.id or 0, name, f.url, f.section, f.language, None, None, None)  # type: ignore[arg-type]
        for name, f in synced.items()
    }
    now = datetime.now(UTC)
    seen: list[tuple[str, int]] = []

    def flushed(write: FeedWrite) -> None:
        seen.append((write.job.name, stored_titles(app)[write.job.name]))

    writer = BatchWriter(app.engine, app.settings, now, flushed, max_feeds=2, max_wait=3600)
    for n, name in enumerate(sorted(jobs)):
        rows = [
            {
                "feed_id": jobs[name].id,
                "key": f"{name}-{i}",
                "title": f"{name} item {i}",
                "published": now,
                "first_seen": now,
                "language": "en",
                "published_source": "feed",
                "content_hash": f"{name}-{i}",
            }
            for i in range(n + 1)
        ]
        writer.add(FeedWrite(jobs[name], FeedOutcome(name, "ok"), rows=rows))
        # Two per batch: the second of each pair flushes both.
        assert len(seen) == (n + 1) // 2 * 2
    writer.flush()
    assert seen == [(f"F{n}", n + 1) for n in range(5)]


def _rows(job: FeedJob, count: int, now: datetime, size: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "feed_id": job.id,
            "key": f"{job.name}-{i}",
            "title": f"{job.name} item {i}",
            "summary_text": "x" * size,
            "published": now,
            "first_seen": now,
            "language": "en",
            "published_source": "feed",
            "content_hash": f"{job.name}-{i}",
        }
        for i in range(count)
    ]


def test_a_full_disk_stops_the_writer_and_counts_only_what_was_stored(
    make_app: Any, server: FeedServer
) -> None:
    """The batch the disk refused is rolled back as a whole: none of its items count, none of
    its feeds is reported, and the writer stops (no feed-by-feed retry, no error per feed)."""
    from newsletter.errors import DatabaseFullError
    from tests.db_faults import disk_full

    app = make_app(feeds=serve(server, 4))
    with session_scope(app.engine) as session:
        synced = feeds.sync_feeds(session, app.config.feeds)
    jobs = [
        FeedJob(f.id or 0, name, f.url, f.section, f.language, None, None, None)  # type: ignore[arg-type]
        for name, f in sorted(synced.items())
    ]
    now = datetime.now(UTC)
    reported: list[FeedWrite] = []
    writer = BatchWriter(app.engine, app.settings, now, reported.append, max_feeds=2, max_wait=3600)
    for job, count in zip(jobs[:2], (1, 2), strict=True):
        writer.add(FeedWrite(job, FeedOutcome(job.name, "ok"), rows=_rows(job, count, now)))
    assert [w.outcome.new_items for w in reported] == [1, 2]
    refused = [
        FeedWrite(job, FeedOutcome(job.name, "ok"), rows=_rows(job, 3, now, size=20_000))
        for job in jobs[2:]
    ]
    with disk_full(app.engine, pages=0, items=3):
        writer.add(refused[0])
        with pytest.raises(DatabaseFullError, match="is full"):
            writer.add(refused[1])
    assert len(reported) == 2  # the refused feeds are not reported
    assert [w.outcome.new_items for w in refused] == [0, 0]
    assert stored_titles(app) == {"F0": 1, "F1": 2, "F2": 0, "F3": 0}


def test_ingest_on_a_full_disk_stops_and_reports_only_the_items_it_stored(
    make_app: Any, server: FeedServer
) -> None:
    from newsletter.errors import DatabaseFullError
    from tests.db_faults import disk_full

    app = make_app(feeds=serve(server, 6))
    with disk_full(app.engine, pages=0, items=9), pytest.raises(DatabaseFullError) as caught:
        ingest(app)
    message = str(caught.value)
    assert message.startswith("ingest stopped: the disk holding ")
    stored = sum(stored_titles(app).values())
    assert f"; {stored} new items from " in message
    assert stored < 18
    # Feeds whose write was refused are as before the poll: fetched again next time.
    untouched = [row for row in feed_health(app) if row.status == "never"]
    assert len(untouched) == 6 - stored // 3
    assert all(row.consecutive_failures == 0 for row in feed_health(app))
    report = ingest(app)  # space freed: the rest is stored, and counted once
    assert report.new_items == 18 - stored
    assert sum(stored_titles(app).values()) == 18


def _exit_now() -> None:
    os._exit(1)  # a parsing process that dies, as one killed by the OOM killer


def test_a_parsing_pool_that_breaks_loses_no_feed(make_app: Any, server: FeedServer) -> None:
    """A real process pool whose worker died: every body submitted to it afterwards is parsed
    in-process, and every feed is stored."""
    app = make_app(feeds=serve(server, 6))
    pool = parse_pool(2)
    try:
        with pytest.raises(BrokenProcessPool):
            pool.submit(_exit_now).result(timeout=60)
        with session_scope(app.engine) as session:
            synced = feeds.sync_feeds(session, app.config.feeds)
            jobs = [feed_job(app, f, None) for f in synced.values()]
        report = poll_jobs(app, jobs, now=datetime.now(UTC), parsers=pool)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    assert sorted((o.name, o.status, o.new_items) for o in report.outcomes) == [
        (f"F{n}", "ok", 3) for n in range(6)
    ]


def test_a_re_poll_of_unchanged_feeds_never_reads_the_model(
    make_app: Any, server: FeedServer
) -> None:
    """The model file is read only when a body needs reading: a damaged one stops a poll that
    has new bodies (nothing of them written), not one where every feed answers 304."""
    app = make_app(feeds=serve(server, 3))
    assert ingest(app).new_items == 9
    models = app.settings.data_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    (models / "reading-bad.json.gz").write_bytes(b"not a model")
    (models / "history").write_text("reading-bad.json.gz\n", encoding="utf-8")
    (models / "current").write_text("reading-bad.json.gz", encoding="utf-8")
    again = ingest(app)
    assert [o.status for o in again.outcomes] == ["not_modified"] * 3
    server.routes["/f0.xml"] = Route(
        rss([("A new story", "new-1", datetime.now(UTC) - HOUR)]), "application/rss+xml"
    )
    with pytest.raises(ModelError, match="cannot read model"):
        ingest(app)
    with session_scope(app.engine) as session:
        stored = {f.name: f for f in feeds.sync_feeds(session, app.config.feeds).values()}
    assert stored["F0"].consecutive_failures == 0
    with app.engine.connect() as conn:  # the new item is not stored
        assert conn.execute(sa.text("SELECT count(*) FROM item")).scalar() == 9


def test_poll_stop_counts_requests_in_flight_and_refuses_new_ones() -> None:
    stop = PollStop()
    assert stop.begin() and stop.begin()
    stop.end()
    assert stop.request() == 1  # one request still in flight when the stop came
    assert stop.is_requested
    assert not stop.begin()  # none starts after it
    stop.end()
    assert stop.request() == 0

    event = threading.Event()
    worker_stop = PollStop(event)  # a worker's stop event stops its poll too
    assert worker_stop.begin()
    event.set()
    assert worker_stop.is_requested and not worker_stop.begin()


def _serve_held(server: FeedServer, names: list[str], held: set[str]) -> list[dict[str, Any]]:
    """Three-item feeds; those in ``held`` answer when the test sets their route's release."""
    when = datetime.now(UTC) - HOUR
    entries = []
    for name in names:
        items = [(f"{name} story {i}", f"{name}-{i}", when - i * HOUR) for i in range(3)]
        route = HeldRoute(rss(items), "application/rss+xml")
        if name not in held:
            route.release.set()
        server.routes[f"/{name}.xml"] = route
        entries.append({"name": name, "url": server.url(f"/{name}.xml"), "section": "headlines"})
    return entries


def _requested(server: FeedServer) -> list[str]:
    with server.lock:
        return [path.strip("/").removesuffix(".xml") for path, _ in server.requests]


def test_a_stopped_poll_stores_what_answered_and_leaves_the_rest_as_they_were(
    make_app: Any,
) -> None:
    """One request at a time: A0 and A1 answer, H is in flight when the stop comes (it answers
    after it), R0 and R1 are never requested: stored as if never polled, polled next time."""
    names = ["A0", "A1", "H", "R0", "R1"]
    with HostileFeedServer() as server:
        app = make_app(feeds=_serve_held(server, names, {"H"}), fetch_concurrency=1)
        held = server.routes["/H.xml"]
        assert isinstance(held, HeldRoute)
        in_flight: list[int] = []
        stop = PollStop()

        def stop_while_h_is_out() -> None:
            deadline = time.monotonic() + 60
            while "H" not in _requested(server) and time.monotonic() < deadline:
                time.sleep(0.01)
            in_flight.append(stop.request())
            held.release.set()

        stopper = threading.Thread(target=stop_while_h_is_out, daemon=True)
        stopper.start()
        report = ingest(app, stop=stop)
        stopper.join(timeout=30)
        assert in_flight == [1]
        assert report.stopped
        assert report.not_polled == ["R0", "R1"]
        assert {o.name: (o.status, o.new_items) for o in report.outcomes} == {
            "A0": ("ok", 3),
            "A1": ("ok", 3),
            "H": ("ok", 3),
        }
        assert _requested(server) == ["A0", "A1", "H"]
        assert stored_titles(app) == {"A0": 3, "A1": 3, "H": 3, "R0": 0, "R1": 0}
        health = {row.name: row for row in feed_health(app)}
        for name in ("R0", "R1"):  # due as before: no error, no failure, no back-off
            assert health[name].status == "never"
            assert health[name].consecutive_failures == 0 and health[name].last_error is None
        with session_scope(app.engine) as session:
            untouched = {f.name: f for f in feeds.all_feeds(session)}
        assert untouched["R0"].next_poll_at is None and untouched["R0"].last_fetched_at is None

        again = ingest(app)
    assert not again.stopped and again.not_polled == []
    assert {o.name: o.status for o in again.outcomes} == {
        "A0": "not_modified",
        "A1": "not_modified",
        "H": "not_modified",
        "R0": "ok",
        "R1": "ok",
    }
    assert stored_titles(app) == dict.fromkeys(names, 3)


def test_a_poll_stopped_before_it_starts_requests_nothing(make_app: Any) -> None:
    with HostileFeedServer() as server:
        app = make_app(feeds=_serve_held(server, ["A0", "A1"], set()))
        stop = PollStop()
        assert stop.request() == 0
        report = ingest(app, stop=stop)
        assert server.requests == []
    assert report.stopped and report.outcomes == []
    assert report.not_polled == ["A0", "A1"]
    assert {row.name: row.status for row in feed_health(app)} == {"A0": "never", "A1": "never"}


@pytest.mark.parametrize(("shown", "level"), [(False, "WARNING"), (True, "INFO")])
def test_a_failing_feed_is_a_warning_unless_the_caller_shows_it(
    make_app: Any, server: FeedServer, caplog: pytest.LogCaptureFixture, shown: bool, level: str
) -> None:
    """`newsletter ingest` shows each failing feed in its table: its log line is INFO there
    (it used to be said twice, as a WARNING above the table); `run` and the workers, which
    print no table, log it as a warning."""
    gone = {"name": "Gone", "url": server.url("/missing.xml"), "section": "headlines"}
    app = make_app(feeds=[*serve(server, 1), gone])
    with caplog.at_level("INFO", logger="newsletter.service.ingest"):
        report = ingest(app, failures_shown=shown)
    assert [o.name for o in report.failed] == ["Gone"]
    (record,) = [r for r in caplog.records if "failed:" in r.getMessage()]
    assert record.levelname == level and "feed 'Gone' failed: " in record.getMessage()
