"""Feeds: the table kept in step with feeds.yaml, and each feed's polling state, on an ORM
session (``feed_states`` does the Core work on a connection, for `newsletter ingest`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection
from sqlmodel import Session, col, select

from newsletter.config import FeedConfig
from newsletter.storage.models import Feed, FeedAction
from newsletter.storage.queries import feed_states
from newsletter.storage.queries.feed_states import FeedState as FeedState


def _connection(session: Session) -> Connection:
    """The session's connection, with the session's pending changes written first (what
    ``session.execute`` does by itself and a statement on the connection would not)."""
    session.flush()
    return session.connection()


def sync_feeds(session: Session, feeds: Sequence[FeedConfig]) -> dict[str, FeedState]:
    """``feed_states.sync_feeds`` in the session's transaction."""
    return feed_states.sync_feeds(_connection(session), feeds)


def sync_feed_table(session: Session, feeds: Sequence[FeedConfig]) -> None:
    """``feed_states.sync_feed_table`` in the session's transaction."""
    feed_states.sync_feed_table(_connection(session), feeds)
    session.flush()


def rename_feed(session: Session, old: str, new: str) -> None:
    """Give a feed row its new name from feeds.yaml, keeping its items and polling state (the
    next sync would otherwise disable the old row and start a new one)."""
    feed = session.exec(select(Feed).where(Feed.name == old)).first()
    taken = session.exec(select(Feed).where(Feed.name == new)).first()
    if feed is None or taken is not None:
        return
    feed.name = new
    session.add(feed)
    session.flush()


def all_feeds(session: Session) -> list[Feed]:
    """Every feed row, by name."""
    return list(session.exec(select(Feed).order_by(col(Feed.name))).all())


def get_feed(session: Session, feed_id: int) -> Feed | None:
    """A feed by id."""
    return session.get(Feed, feed_id)


def feeds_by_id(session: Session, feed_ids: Collection[int]) -> dict[int, Feed]:
    """Feed rows by id, read with one query."""
    if not feed_ids:
        return {}
    rows = session.exec(select(Feed).where(col(Feed.id).in_(sorted(feed_ids)))).all()
    return {feed.id: feed for feed in rows if feed.id is not None}


def mark_polled_unchanged(
    session: Session, feed_ids: Collection[int], now: datetime, http_status: int
) -> int:
    """``feed_states.mark_polled_unchanged`` in the session's transaction."""
    return feed_states.mark_polled_unchanged(_connection(session), feed_ids, now, http_status)


def weekly_entries_by_id(session: Session, feed_ids: Collection[int]) -> dict[int, int | None]:
    """``feed_states.weekly_entries_by_id`` in the session's transaction."""
    return feed_states.weekly_entries_by_id(_connection(session), feed_ids)


def set_poll_plans(session: Session, plans: Mapping[int, tuple[datetime, str]]) -> None:
    """``feed_states.set_poll_plans`` in the session's transaction."""
    feed_states.set_poll_plans(_connection(session), plans)


def save_feed(session: Session, feed: Feed) -> None:
    """Write a changed feed row with the session's transaction."""
    session.add(feed)


def record_feed_action(
    session: Session, feed: str, action: str, note: str | None, actor: str | None
) -> None:
    """Log one change to the feed list with the account that made it."""
    session.add(
        FeedAction(
            feed=feed[:200],
            action=action[:20],
            note=note[:500] if note else None,
            actor=actor[:100] if actor else None,
        )
    )
    session.flush()


def recent_feed_actions(session: Session, limit: int) -> list[FeedAction]:
    """The latest changes to the feed list, newest first."""
    stmt = (
        select(FeedAction)
        .order_by(col(FeedAction.created_at).desc(), col(FeedAction.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt).all())
