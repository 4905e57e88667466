"""Storage: migrations create and upgrade the schema, SQLite runs in WAL, writes are idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel, select

from newsletter.storage import db
from newsletter.storage.db import session_scope
from newsletter.storage.models import Feed, Item
from newsletter.storage.queries import issues, items
from tests.conftest import POSTGRES_URL


def test_upgrade_is_idempotent_and_matches_the_models(database_url: str) -> None:
    engine = db.make_engine(database_url)
    before, after = db.upgrade(engine)
    assert before is None and after == db.head_revision()
    assert db.upgrade(engine) == (after, after)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    engine.dispose()


def test_the_schema_check_without_alembic_agrees_with_alembic(database_url: str) -> None:
    """An up-to-date database is recognised with one SELECT and the migration files' own
    revision lines, without importing Alembic; both answers are Alembic's."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    assert db.head_revision() == ScriptDirectory.from_config(config).get_current_head()
    engine = db.make_engine(database_url)
    assert db.current_revision(engine) is None
    db.upgrade(engine)
    with engine.connect() as conn:
        assert (
            db.current_revision(engine) == MigrationContext.configure(conn).get_current_revision()
        )
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 10000
    assert (tmp_path / "sub").is_dir()


def test_times_are_stored_in_utc_and_read_back_aware(make_app: Any) -> None:
    app = make_app()
    shanghai = datetime(2026, 11, 20, 18, 0, tzinfo=timezone(timedelta(hours=8)))
    with session_scope(app.engine) as session:
        feed = Feed(name="F", url="https://example.com/f", section="headlines")
        session.add(feed)
        session.flush()
        session.add(
            Item(
                feed_id=feed.id or 0,
                key="k",
                title="T",
                published=shanghai,
                first_seen=shanghai,
                content_hash="h",
            )
        )
    with session_scope(app.engine) as session:
        item = session.exec(select(Item)).one()
        assert item.published == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
        assert item.published.tzinfo is not None


def test_item_insert_ignores_duplicates(make_app: Any) -> None:
    app = make_app()
    now = datetime.now(UTC)
    with session_scope(app.engine) as session:
        feed = Feed(name="F", url="https://example.com/f", section="headlines")
        session.add(feed)
        session.flush()
        rows = [
            {
                "feed_id": feed.id,
                "key": f"k{i}",
                "title": f"T{i}",
                "published": now,
                "first_seen": now,
                "content_hash": "h",
                "summary_html": "",
                "summary_text": "",
                "language": "en",
                "published_source": "feed",
                "facts": {},
            }
            for i in range(3)
        ]
        assert items.insert_items(session, rows) == 3
        assert items.insert_items(session, [*rows, {**rows[0], "key": "k9"}]) == 1
    with session_scope(app.engine) as session:
        assert len(session.exec(select(Item)).all()) == 4
        # Several feeds' items in one executemany: new ones counted per feed.
        other = Feed(name="G", url="https://example.com/g", section="headlines")
        session.add(other)
        session.flush()
        mixed = [*rows[:2], {**rows[0], "key": "k10"}, *({**r, "feed_id": other.id} for r in rows)]
        assert items.insert_feed_items(session, mixed) == {feed.id: 1, other.id: 3}
        assert items.insert_feed_items(session, mixed) == {}
    with session_scope(app.engine) as session:
        assert len(session.exec(select(Item)).all()) == 8


def test_one_issue_per_period_even_when_created_twice(make_app: Any) -> None:
    app = make_app()
    start = datetime(2026, 11, 16, tzinfo=UTC)
    with session_scope(app.engine) as session:
        first = issues.get_or_create_issue(session, "2026-W48", start, start + timedelta(days=7))
    with session_scope(app.engine) as session:
        second = issues.get_or_create_issue(session, "2026-W48", start, start + timedelta(days=7))
    assert first.id == second.id


def test_delivery_counts_skip_a_status_they_do_not_know(make_app: Any) -> None:
    """A status written by a newer version (or by hand) is logged and counted nowhere, instead
    of breaking `status`, the send's finish and the statistics page."""
    from datetime import UTC, datetime

    from newsletter.storage.db import session_scope
    from newsletter.storage.models import Delivery, Issue, Subscriber
    from newsletter.storage.queries.deliveries import delivery_counts

    app = make_app()
    now = datetime.now(UTC)
    with session_scope(app.engine) as session:
        issue = Issue(period="2026-W01", window_start=now, window_end=now, status="sending")
        session.add(issue)
        for n, status in enumerate(["sent", "sent", "queued", "teleported"]):
            sub = Subscriber(email=f"r{n}@example.com", status="active", token=f"t{n:021d}")
            session.add(sub)
            session.flush()
            assert issue.id is not None and sub.id is not None
            session.add(Delivery(issue_id=issue.id, subscriber_id=sub.id, status=status))
        session.flush()
        counts = delivery_counts(session, issue.id)
    assert counts.sent == 2 and counts.queued == 1 and counts.failed == 0


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_plain_postgres_urls_use_the_installed_driver(scheme: str) -> None:
    """postgres:// and postgresql:// (what most tools write) mean psycopg 3, not psycopg2."""
    from newsletter.storage.db import make_engine

    engine = make_engine(f"{scheme}://editor:s3cret@db.example:5432/news")
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.url.password == "s3cret" and engine.url.database == "news"
    finally:
        engine.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs NEWSLETTER_TEST_POSTGRES_URL")
def test_a_plain_postgres_url_connects() -> None:
    from newsletter.storage.db import make_engine

    assert POSTGRES_URL is not None
    plain = "postgres://" + POSTGRES_URL.split("://", 1)[1]
    engine = make_engine(plain)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def _item_rows(feed_id: int, count: int, size: int = 0) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "feed_id": feed_id,
            "key": f"k{i}",
            "title": f"T{i}",
            "published": now,
            "first_seen": now,
            "content_hash": "h",
            "summary_html": "x" * size,
            "summary_text": "x" * size,
            "language": "en",
            "published_source": "feed",
            "facts": {},
        }
        for i in range(count)
    ]


def test_a_full_disk_is_one_database_full_error_and_nothing_of_the_write_is_kept(
    make_app: Any,
) -> None:
    """The database's own refusal (SQLite SQLITE_FULL, PostgreSQL SQLSTATE 53100, each raised
    by the real database) becomes DatabaseFullError in session_scope, naming where to free
    space; the transaction is rolled back, and what was committed before stays."""
    from newsletter.errors import DatabaseFullError
    from tests.db_faults import disk_full

    app = make_app()
    with session_scope(app.engine) as session:
        feed = Feed(name="F", url="https://example.com/f", section="headlines")
        session.add(feed)
        session.flush()
        feed_id = feed.id
        items.insert_feed_items(session, _item_rows(feed_id, 2))
    assert feed_id is not None
    with (
        disk_full(app.engine, pages=2, items=2),
        pytest.raises(DatabaseFullError) as caught,
        session_scope(app.engine) as session,
    ):
        items.insert_feed_items(session, _item_rows(feed_id, 200, size=4000)[2:])
    message = str(caught.value)
    assert message.startswith("the disk holding the ")
    assert "free space and run the command again" in message
    if app.engine.dialect.name == "sqlite":
        assert "database or disk is full" in message and str(app.engine.url.database) in message
    else:
        assert "PostgreSQL" in message and "No space left on device" in message
    with session_scope(app.engine) as session:
        assert len(session.exec(select(Item)).all()) == 2


def test_postgres_disk_full_maps_by_its_sqlstate() -> None:
    """psycopg's DiskFull (SQLSTATE 53100), as SQLAlchemy wraps it, without a server; other
    operational errors are left alone."""
    import psycopg

    from newsletter.errors import DatabaseFullError

    engine = sa.create_engine("postgresql+psycopg://db.example/news")
    full = psycopg.errors.DiskFull("could not extend file: No space left on device")
    assert full.sqlstate == "53100"
    mapped = db.full_disk_error(engine, sa.exc.OperationalError("INSERT", {}, full))
    assert isinstance(mapped, DatabaseFullError)
    assert "PostgreSQL database on db.example" in str(mapped)
    other = psycopg.errors.AdminShutdown("terminating connection")
    assert db.full_disk_error(engine, sa.exc.OperationalError("INSERT", {}, other)) is None
    assert db.full_disk_error(engine, ValueError("no")) is None
