"""The feed table kept in step with feeds.yaml (storage/queries/feeds.sync_feed_table)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from newsletter.config import load_config
from newsletter.storage.db import session_scope
from newsletter.storage.models import Feed
from newsletter.storage.queries import feeds
from tests.conftest import write_config


def _rows(app: Any) -> dict[str, dict[str, Any]]:
    table = Feed.metadata.tables["feed"]
    with app.engine.connect() as conn:
        return {r.name: dict(r._mapping) for r in conn.execute(sa.select(table))}


def test_sync_writes_what_changed_and_keeps_the_polling_state(
    make_app: Any, tmp_path: Path
) -> None:
    listed = [
        {"name": "Same", "url": "https://a.example/feed", "section": "headlines"},
        {"name": "Moved", "url": "https://b.example/feed", "section": "headlines"},
        {"name": "Resectioned", "url": "https://c.example/feed", "section": "headlines"},
        {"name": "Dropped", "url": "https://d.example/feed", "section": "headlines"},
    ]
    app = make_app(feeds=listed)
    with session_scope(app.engine) as session:
        feeds.sync_feed_table(session, app.config.feeds)
    table = Feed.metadata.tables["feed"]
    with app.engine.begin() as conn:  # polling state, as ingest leaves it
        conn.execute(
            sa.update(table).values(
                etag='"v1"', body_hash="h", consecutive_failures=2, redirect_count=1
            )
        )
    changed = [
        listed[0],
        {**listed[1], "url": "https://b2.example/feed"},
        {**listed[2], "section": "industry", "enabled": False},
        {"name": "New", "url": "https://e.example/feed", "section": "events"},
    ]
    config = load_config(write_config(tmp_path, changed))
    with session_scope(app.engine) as session:
        feeds.sync_feed_table(session, config.feeds)
    rows = _rows(app)
    same, moved, resectioned = rows["Same"], rows["Moved"], rows["Resectioned"]
    assert (same["etag"], same["consecutive_failures"], same["enabled"]) == ('"v1"', 2, True)
    # A new url forgets the old one's validators, redirects and back-off.
    assert moved["url"] == "https://b2.example/feed"
    assert (moved["etag"], moved["body_hash"], moved["consecutive_failures"]) == (None, None, 0)
    assert moved["redirect_count"] == 0
    assert (resectioned["section"], resectioned["enabled"]) == ("industry", False)
    assert resectioned["disabled_reason"] == "enabled: false in feeds.yaml"
    assert resectioned["etag"] == '"v1"'
    assert (rows["Dropped"]["enabled"], rows["Dropped"]["disabled_reason"]) == (
        False,
        "no longer listed in feeds.yaml",
    )
    assert (rows["New"]["section"], rows["New"]["last_status"]) == ("events", "never")
    # Listed again: enabled again, without a reason.
    with session_scope(app.engine) as session:
        synced = feeds.sync_feeds(session, app.config.feeds)
    assert sorted(synced) == ["Dropped", "Moved", "Resectioned", "Same"]
    assert _rows(app)["Dropped"]["enabled"] is True
    assert _rows(app)["Dropped"]["disabled_reason"] is None
