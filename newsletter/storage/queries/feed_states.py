"""Feeds' polling state, read and written with SQLAlchemy Core on a connection: what
`newsletter ingest` needs before and between its requests, without the ORM.

The first ORM query of a process sets up every mapper of the schema, and importing the
SQLModel classes costs more still (docs/performance.md); a poll of unchanged feeds needs
neither. ``queries.feeds`` offers the same functions on an ORM session."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from newsletter.config import FeedConfig
from newsletter.domain.statuses import FeedStatus
from newsletter.storage.db import dialect_insert
from newsletter.storage.tables import feed as table


@dataclass(frozen=True)
class FeedState:
    """What a poll reads of a feed row before fetching it (a Core row, not an ORM object)."""

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


def sync_feeds(conn: sa.Connection, feeds: Sequence[FeedConfig]) -> dict[str, FeedState]:
    """Make the feed table match feeds.yaml (by name) and return the listed feeds' states."""
    sync_feed_table(conn, feeds)
    listed = {cfg.name for cfg in feeds}
    rows = conn.execute(sa.select(*(table.c[name] for name in _STATE_COLUMNS)))
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


def sync_feed_table(conn: sa.Connection, feeds: Sequence[FeedConfig]) -> None:
    """Make the feed table match feeds.yaml (by name); feeds no longer listed are disabled.

    Reads only the configured columns and writes only the rows that differ (one executemany
    per kind of change), so a worker with 10,000 feeds holds no row objects for them."""
    columns = [table.c.id, table.c.name, *(table.c[name] for name in _CONFIGURED)]

    def stored() -> dict[str, sa.Row[Any]]:
        return {row.name: row for row in conn.execute(sa.select(*columns))}

    existing = stored()
    missing = [cfg for cfg in feeds if cfg.name not in existing]
    if missing:
        # Two processes may sync at once: insert-or-ignore, then read back.
        stmt = dialect_insert(conn, table).on_conflict_do_nothing(index_elements=["name"])
        conn.execute(
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
            conn.execute(update, rows)


def mark_polled_unchanged(
    conn: sa.Connection, feed_ids: Collection[int], now: datetime, http_status: int
) -> int:
    """Record a successful poll that changed nothing (a 304, or the same body again, with no
    permanent redirect) on many feeds with one UPDATE; returns how many rows it touched.

    The same as the per-feed bookkeeping of a success: errors and back-off cleared, any
    automatic disabling lifted, a pending redirect candidate forgotten; validators and body
    hash stay as they are."""
    if not feed_ids:
        return 0
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
    result = conn.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


def weekly_entries_by_id(conn: sa.Connection, feed_ids: Collection[int]) -> dict[int, int | None]:
    """Each feed's known posting frequency (entries a week), with one query."""
    if not feed_ids:
        return {}
    rows = conn.execute(
        sa.select(table.c.id, table.c.weekly_entries).where(table.c.id.in_(sorted(feed_ids)))
    )
    return {int(feed_id): weekly for feed_id, weekly in rows}


def set_poll_plans(conn: sa.Connection, plans: Mapping[int, tuple[datetime, str]]) -> None:
    """Set each feed's adaptive next poll (``poll_due_at``) and its reason. Feeds given the
    same plan (most of a poll's feeds: one ``now``, and the default interval or the same
    posting frequency) are set with one ``UPDATE ... WHERE id IN (...)`` per plan, the others
    with one executemany: per-row parameters cost more than the statement."""
    if not plans:
        return
    same: dict[tuple[datetime, str], list[int]] = {}
    for feed_id, (due, reason) in plans.items():
        same.setdefault((due, reason[:300]), []).append(feed_id)
    single: list[dict[str, Any]] = []
    for (due, reason), ids in same.items():
        if len(ids) == 1:
            single.append({"b_id": ids[0], "b_due": due, "b_reason": reason})
            continue
        conn.execute(
            table.update()
            .where(table.c.id.in_(sorted(ids)))
            .values(poll_due_at=due, poll_reason=reason)
        )
    if single:
        stmt = (
            table.update()
            .where(table.c.id == sa.bindparam("b_id"))
            .values(poll_due_at=sa.bindparam("b_due"), poll_reason=sa.bindparam("b_reason"))
        )
        conn.execute(stmt, sorted(single, key=lambda row: row["b_id"]))
