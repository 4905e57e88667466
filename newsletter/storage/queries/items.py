"""Items: stored feed entries, their reading (section, reason, facts) and article text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.storage.db import dialect_insert
from newsletter.storage.models import Feed, Item


@dataclass(frozen=True, slots=True)
class ItemReading:
    """A new reading of one stored item: its section, the reason for it, and its facts."""

    item_id: int
    section: str | None
    reason: str
    facts: dict[str, Any]
    relevance: float | None = None
    suggested_section: str | None = None


def item_counts(session: Session) -> dict[int, int]:
    """Stored items per feed id."""
    rows = session.exec(select(Item.feed_id, func.count()).group_by(col(Item.feed_id))).all()
    return {feed_id: count for feed_id, count in rows}


def feed_item_stats(session: Session, since: datetime) -> dict[int, tuple[int, int]]:
    """Per feed id: items published since ``since``, and how many of them the reading left
    out (no section)."""
    left_out = sa.func.sum(sa.case((col(Item.section).is_(None), 1), else_=0))
    rows = session.execute(
        sa.select(col(Item.feed_id), func.count(), left_out)
        .where(col(Item.published) > since)
        .group_by(col(Item.feed_id))
    )
    return {int(feed_id): (int(total), int(left or 0)) for feed_id, total, left in rows}


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> None:
    """One executemany of INSERT ... ON CONFLICT (feed, key) DO NOTHING. A Core INSERT on the
    table, not on the ORM entity: the ORM's bulk path handles each row in Python again (a
    third of the main process's time in a 25,000-item first poll)."""
    table = Item.metadata.tables["item"]
    stmt = dialect_insert(session, table).on_conflict_do_nothing(index_elements=["feed_id", "key"])
    session.connection().execute(stmt, rows)


def insert_items(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert items, ignoring ones already stored (same feed and key); returns how many were new."""
    if not rows:
        return 0
    feed_ids = sorted({row["feed_id"] for row in rows})

    def stored() -> int:
        # Counted for these feeds only (an index lookup), not the whole table.
        stmt = select(func.count()).select_from(Item).where(col(Item.feed_id).in_(feed_ids))
        return int(session.exec(stmt).one())

    before = stored()
    _insert_new(session, rows)
    return stored() - before


def _counts_for(session: Session, feed_ids: list[int]) -> dict[int, int]:
    """Stored items of these feeds (an index lookup), by feed id."""
    stmt = (
        select(Item.feed_id, func.count())
        .where(col(Item.feed_id).in_(feed_ids))
        .group_by(col(Item.feed_id))
    )
    return {feed_id: int(count) for feed_id, count in session.exec(stmt).all()}


def insert_feed_items(session: Session, rows: list[dict[str, Any]]) -> dict[int, int]:
    """Insert the items of several feeds with one ``executemany`` (INSERT ... ON CONFLICT DO
    NOTHING on feed and key); returns how many were new, by feed id (feeds with none left out)."""
    if not rows:
        return {}
    feed_ids = sorted({row["feed_id"] for row in rows})
    before = _counts_for(session, feed_ids)
    _insert_new(session, rows)
    after = _counts_for(session, feed_ids)
    return {
        feed_id: after.get(feed_id, 0) - before.get(feed_id, 0)
        for feed_id in feed_ids
        if after.get(feed_id, 0) > before.get(feed_id, 0)
    }


def items_between(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[tuple[Item, Feed]]:
    """Items (with their feed) published in (since, until], newest first."""
    stmt = select(Item, Feed).join(Feed, col(Item.feed_id) == col(Feed.id))
    if since is not None:
        stmt = stmt.where(col(Item.published) > since)
    if until is not None:
        stmt = stmt.where(col(Item.published) <= until)
    stmt = stmt.order_by(col(Item.published).desc(), col(Item.id))
    return [(item, feed) for item, feed in session.exec(stmt).all()]


def items_by_id(session: Session, ids: Iterable[int]) -> list[tuple[Item, Feed]]:
    """Items (with their feed) by id."""
    wanted = list(ids)
    if not wanted:
        return []
    stmt = (
        select(Item, Feed)
        .join(Feed, col(Item.feed_id) == col(Feed.id))
        .where(col(Item.id).in_(wanted))
    )
    return [(item, feed) for item, feed in session.exec(stmt).all()]


def get_item(session: Session, item_id: int) -> Item | None:
    """An item by id."""
    return session.get(Item, item_id)


def set_readings(session: Session, changes: Iterable[ItemReading]) -> int:
    """Store the new reading of items whose reading changed; returns how many."""
    count = 0
    for change in changes:
        session.execute(
            sa.update(Item)
            .where(col(Item.id) == change.item_id)
            .values(
                section=change.section,
                section_reason=change.reason,
                facts=change.facts,
                relevance=change.relevance,
                suggested_section=change.suggested_section,
            )
        )
        count += 1
    return count


def set_article(session: Session, item_id: int, text: str | None, status: str) -> None:
    """Store an item's fetched article text (None: nothing usable) and how fetching went."""
    item = session.get(Item, item_id)
    if item is not None:
        item.article_text = text
        item.article_status = status
        session.add(item)
