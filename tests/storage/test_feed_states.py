"""Feeds' polling state on a Core connection (storage/queries/feed_states.py), as
`newsletter ingest` reads and writes it without the ORM."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from newsletter.storage.db import connection_scope
from newsletter.storage.queries import feed_states
from newsletter.storage.tables import feed as table

NOW = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


def _feeds(n: int) -> list[dict[str, str]]:
    return [
        {"name": f"Feed {i}", "url": f"https://f{i}.example/feed", "section": "headlines"}
        for i in range(n)
    ]


def test_poll_plans_shared_and_single_each_reach_their_feed(make_app: Any) -> None:
    """Feeds with the same plan are set with one UPDATE per plan, the others with one
    executemany: every feed gets its own plan either way, and no other feed is touched."""
    app = make_app(feeds=_feeds(7))
    with connection_scope(app.engine) as conn:
        states = feed_states.sync_feeds(conn, app.config.feeds)
    ids = sorted(state.id for state in states.values())
    hour, day = NOW + timedelta(hours=1), NOW + timedelta(days=1)
    plans = {
        ids[0]: (hour, "default interval"),
        ids[1]: (hour, "default interval"),
        ids[2]: (hour, "default interval"),
        ids[3]: (day, "no entries in the last 7 days"),
        ids[4]: (day, "no entries in the last 7 days"),
        ids[5]: (NOW + timedelta(minutes=90), "Cache-Control max-age 90 min" + "x" * 400),
    }
    with connection_scope(app.engine) as conn:
        feed_states.set_poll_plans(conn, plans)
    with app.engine.connect() as conn:
        rows = {
            r.id: (r.poll_due_at, r.poll_reason)
            for r in conn.execute(sa.select(table.c.id, table.c.poll_due_at, table.c.poll_reason))
        }
    expected = {fid: (due, reason[:300]) for fid, (due, reason) in plans.items()}
    expected[ids[6]] = (None, None)  # not in the plans: untouched
    assert rows == expected


def test_sync_reads_states_and_marks_304s_on_a_connection(make_app: Any) -> None:
    app = make_app(feeds=_feeds(3))
    with connection_scope(app.engine) as conn:
        states = feed_states.sync_feeds(conn, app.config.feeds)
        assert sorted(states) == ["Feed 0", "Feed 1", "Feed 2"]
        assert all(s.consecutive_failures == 0 and s.etag is None for s in states.values())
        marked = [states["Feed 0"].id, states["Feed 2"].id]
        assert feed_states.mark_polled_unchanged(conn, marked, NOW, 304) == 2
        weekly = feed_states.weekly_entries_by_id(conn, marked)
        assert weekly == {marked[0]: None, marked[1]: None}
    with app.engine.connect() as conn:
        rows = {
            r.name: (r.last_status, r.last_http_status, r.last_success_at)
            for r in conn.execute(sa.select(table))
        }
    assert rows["Feed 0"] == ("not_modified", 304, NOW)
    assert rows["Feed 1"][1] is None
