"""Feeds: the table kept in step with feeds.yaml, and each feed's polling state."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from newsletter.config import FeedConfig
from newsletter.domain.statuses import FeedStatus
from newsletter.storage.db import dialect_insert
from newsletter.storage.models import Feed, FeedAction


@dataclass(frozen=True)
class FeedState:
    """What a poll reads of a feed row before fetching it.

    Read with a Core select, not as ORM objects: the first ORM query of a process sets up
    every mapper of the schema (tens of milliseconds), which a poll of unchanged feeds then
    never needs, and would otherwise pay before its first request."""

    id: int
    name: str
    url: str
    redirect_url: str | None
    section: str
    language: str
    encoding: str | None
    enabled: bool
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    auto_disabled_at: datetime | None
    auto_disabled_reason: str | None
    next_poll_at: datetime | None
    last_error: str | None
    consecutive_failures: int


_STATE_COLUMNS = tuple(f.name for f in fields(FeedState))


def sync_feeds(session: Session, feeds: Sequence[FeedConfig]) -> dict[str, FeedState]:
    """Make the feed table match feeds.yaml (by name) and return the listed feeds' states."""
    sync_feed_table(session, feeds)
    listed = {cfg.name for cfg in feeds}
    table = Feed.metadata.tables["feed"]
    rows = session.execute(sa.select(*(table.c[name] for name in _STATE_COLUMNS)))
    return {row.name: FeedState(*row) for row in rows if row.name in listed}


_CONFIGURED = ("url", "section", "weight", "language", "encoding", "enabled", "disabled_reason")
# A new url is the editor's fix: forget the old one's validators, redirects, back-off and
# automatic disabling.
_URL_RESET: dict[str, object] = {
    "etag": None,
    "last_modified": None,
    "body_hash": None,
    "redirect_url": None,
    "redirect_candidate": None,
    "redirect_count": 0,
    "auto_disabled_at": None,
    "auto_disabled_reason": None,
    "next_poll_at": None,
    "consecutive_failures": 0,
}


def sync_feed_table(session: Session, feeds: Sequence[FeedConfig]) -> None:
    """Make the feed table match feeds.yaml (by name); feeds no longer listed are disabled.

    Reads only the configured columns and writes only the rows that differ (one executemany
    per kind of change), so a worker with 10,000 feeds holds no row objects for them."""
    table = Feed.metadata.tables["feed"]
    columns = [table.c.id, table.c.name, *(table.c[name] for name in _CONFIGURED)]

    def stored() -> dict[str, sa.Row[Any]]:
        return {row.name: row for row in session.execute(sa.select(*columns))}

    existing = stored()
    missing = [cfg for cfg in feeds if cfg.name not in existing]
    if missing:
        # Two processes may sync at once: insert-or-ignore, then read back.
        stmt = dialect_insert(session, Feed).on_conflict_do_nothing(index_elements=["name"])
        session.execute(
            stmt,
            [
                {
                    "name": c.name,
                    "url": c.url,
                    "section": c.section,
                    "weight": c.weight,
                    "language": c.language,
                    "enabled": c.enabled,
                    "last_status": FeedStatus.NEVER,
                    "consecutive_failures": 0,
                }
                for c in missing
            ],
        )
        existing = stored()
    changed: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    for cfg in feeds:
        row = existing[cfg.name]
        wanted: dict[str, Any] = {
            "url": cfg.url,
            "section": cfg.section,
            "weight": cfg.weight,
            "language": cfg.language,
            "encoding": cfg.encoding,
            "enabled": cfg.enabled,
            "disabled_reason": None if cfg.enabled else "enabled: false in feeds.yaml",
        }
        if row.url != cfg.url:
            moved.append({"row_id": row.id, **wanted, **_URL_RESET})
        elif any(getattr(row, name) != value for name, value in wanted.items()):
            changed.append({"row_id": row.id, **wanted})
    listed = {cfg.name for cfg in feeds}
    dropped = [
        {"row_id": row.id, "enabled": False, "disabled_reason": "no longer listed in feeds.yaml"}
        for name, row in existing.items()
        if name not in listed and row.enabled
    ]
    for rows in (changed, moved, dropped):
        if rows:
            values: dict[str, Any] = {n: sa.bindparam(n) for n in rows[0] if n != "row_id"}
            update = sa.update(table).where(table.c.id == sa.bindparam("row_id")).values(values)
            session.execute(update, rows)
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
    """Record a successful poll that changed nothing (a 304, or the same body again, with no
    permanent redirect) on many feeds with one UPDATE; returns how many rows it touched.

    The same as the per-feed bookkeeping of a success: errors and back-off cleared, any
    automatic disabling lifted, a pending redirect candidate forgotten; validators and body
    hash stay as they are."""
    if not feed_ids:
        return 0
    table = Feed.metadata.tables["feed"]  # Core, not the ORM: see FeedState
    stmt = (
        table.update()
        .where(table.c.id.in_(sorted(feed_ids)))
        .values(
            last_fetched_at=now,
            last_success_at=now,
            last_status=FeedStatus.NOT_MODIFIED,
            last_http_status=http_status,
            last_error=None,
            consecutive_failures=0,
            next_poll_at=None,
            auto_disabled_at=None,
            auto_disabled_reason=None,
            redirect_candidate=None,
            redirect_count=0,
        )
    )
    result = session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def weekly_entries_by_id(session: Session, feed_ids: Collection[int]) -> dict[int, int | None]:
    """Each feed's known posting frequency (entries a week), with one query."""
    if not feed_ids:
        return {}
    table = Feed.metadata.tables["feed"]
    rows = session.execute(
        sa.select(table.c.id, table.c.weekly_entries).where(table.c.id.in_(sorted(feed_ids)))
    )
    return {int(feed_id): weekly for feed_id, weekly in rows}


def set_poll_plans(session: Session, plans: Mapping[int, tuple[datetime, str]]) -> None:
    """Set each feed's adaptive next poll (``poll_due_at``) and its reason: one executemany."""
    if not plans:
        return
    table = Feed.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(table.c.id == sa.bindparam("b_id"))
        .values(poll_due_at=sa.bindparam("b_due"), poll_reason=sa.bindparam("b_reason"))
    )
    params = [
        {"b_id": feed_id, "b_due": due, "b_reason": reason[:300]}
        for feed_id, (due, reason) in sorted(plans.items())
    ]
    session.connection().execute(stmt, params)


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
