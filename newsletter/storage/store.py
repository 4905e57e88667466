"""Queries and writes: the only module that speaks SQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from newsletter.config import FeedConfig
from newsletter.domain.content import EditorChoices
from newsletter.storage.models import (
    Delivery,
    Feed,
    Issue,
    IssueAction,
    Item,
    Link,
    Subscriber,
    utcnow,
)


def _insert(session: Session, table: Any) -> Any:
    """A dialect INSERT that supports ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# ---- feeds ---------------------------------------------------------------------------------


def sync_feeds(session: Session, feeds: Sequence[FeedConfig]) -> dict[str, Feed]:
    """Make the feed table match feeds.yaml (by name); feeds no longer listed are disabled."""
    existing = {f.name: f for f in session.exec(select(Feed)).all()}
    missing = [cfg for cfg in feeds if cfg.name not in existing]
    if missing:
        # Two processes may sync at once: insert-or-ignore, then read back.
        stmt = _insert(session, Feed).on_conflict_do_nothing(index_elements=["name"])
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
                    "last_status": "never",
                    "consecutive_failures": 0,
                }
                for c in missing
            ],
        )
        existing = {f.name: f for f in session.exec(select(Feed)).all()}
    result: dict[str, Feed] = {}
    for cfg in feeds:
        feed = existing[cfg.name]
        if feed.url != cfg.url:
            feed.etag = feed.last_modified = feed.body_hash = None
            # A new url is the editor's fix: forget the old one's redirects, back-off and
            # automatic disabling.
            feed.redirect_url = feed.redirect_candidate = None
            feed.redirect_count = 0
            feed.auto_disabled_at = feed.auto_disabled_reason = None
            feed.next_poll_at = None
            feed.consecutive_failures = 0
        feed.url = cfg.url
        feed.section = cfg.section
        feed.weight = cfg.weight
        feed.language = cfg.language
        feed.encoding = cfg.encoding
        feed.enabled = cfg.enabled
        feed.disabled_reason = None if cfg.enabled else "enabled: false in feeds.yaml"
        session.add(feed)
        result[cfg.name] = feed
    for name, feed in existing.items():
        if name not in result and feed.enabled:
            feed.enabled = False
            feed.disabled_reason = "no longer listed in feeds.yaml"
            session.add(feed)
    session.flush()
    return result


def all_feeds(session: Session) -> list[Feed]:
    """Every feed row, by name."""
    return list(session.exec(select(Feed).order_by(col(Feed.name))).all())


def item_counts(session: Session) -> dict[int, int]:
    """Stored items per feed id."""
    rows = session.exec(select(Item.feed_id, func.count()).group_by(col(Item.feed_id))).all()
    return {feed_id: count for feed_id, count in rows}


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
    stmt = _insert(session, Item).on_conflict_do_nothing(index_elements=["feed_id", "key"])
    session.execute(stmt, rows)
    return stored() - before


# ---- items ---------------------------------------------------------------------------------


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


def set_readings(session: Session, changes: Iterable[tuple[int, str, str, dict[str, Any]]]) -> int:
    """Store (item id, section, reason, facts) for items whose reading changed."""
    count = 0
    for item_id, section, reason, facts in changes:
        session.execute(
            sa.update(Item)
            .where(col(Item.id) == item_id)
            .values(section=section, section_reason=reason, facts=facts)
        )
        count += 1
    return count


# ---- issues --------------------------------------------------------------------------------


def get_issue(session: Session, period: str) -> Issue | None:
    """The issue of a period, if any."""
    return session.exec(select(Issue).where(Issue.period == period)).first()


def get_or_create_issue(session: Session, period: str, start: datetime, end: datetime) -> Issue:
    """The issue of a period, created as a draft if missing; safe when two processes race."""
    stmt = (
        _insert(session, Issue)
        .values(
            period=period,
            status="draft",
            subject="",
            window_start=start,
            window_end=end,
            content={},
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["period"])
    )
    session.execute(stmt)
    issue = get_issue(session, period)
    assert issue is not None
    return issue


def lock_issue(session: Session, issue_id: int) -> Issue:
    """Re-read an issue row, locked FOR UPDATE on PostgreSQL (SQLite serializes writers anyway)."""
    stmt = select(Issue).where(Issue.id == issue_id).with_for_update()
    issue = session.exec(stmt.execution_options(populate_existing=True)).one()
    return issue


# ---- subscribers ---------------------------------------------------------------------------


def get_subscriber(session: Session, email: str) -> Subscriber | None:
    """A subscriber by normalized address."""
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    """Subscribers, optionally of one status, by address."""
    stmt = select(Subscriber).order_by(col(Subscriber.email))
    if status:
        stmt = stmt.where(Subscriber.status == status)
    return list(session.exec(stmt).all())


def delivery_count(session: Session, issue_id: int, status: str | None = None) -> int:
    """How many deliveries an issue has (of one status)."""
    stmt = select(func.count()).select_from(Delivery).where(Delivery.issue_id == issue_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    return int(session.exec(stmt).one())


def delivery_counts(session: Session, issue_id: int) -> dict[str, int]:
    """Deliveries of an issue by status."""
    stmt = (
        select(Delivery.status, func.count())
        .where(Delivery.issue_id == issue_id)
        .group_by(col(Delivery.status))
    )
    return {status: int(n) for status, n in session.exec(stmt).all()}


def queue_active_subscribers(session: Session, issue_id: int) -> int:
    """One queued delivery per active subscriber (existing ones kept), in one INSERT ... SELECT:
    the subscriber list is never loaded. Returns the rows added."""
    before = delivery_count(session, issue_id)
    source = sa.select(
        sa.literal(issue_id),
        col(Subscriber.id),
        sa.literal("queued"),
        sa.literal(0),
        sa.literal(utcnow().replace(tzinfo=None)),
    ).where(col(Subscriber.status) == "active")
    stmt = (
        _insert(session, Delivery)
        .from_select(["issue_id", "subscriber_id", "status", "attempts", "created_at"], source)
        .on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
    )
    session.execute(stmt)
    return delivery_count(session, issue_id) - before


def claim_batch(
    session: Session, issue_id: int, now: datetime, lease_until: datetime, worker: str, limit: int
) -> list[tuple[int, int, str | None, int]]:
    """Take up to ``limit`` due deliveries of a sending issue for this worker, with a lease:
    first those whose sender's lease ran out, then queued ones whose retry time has come.

    On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED, so any number of workers share
    an issue without overlap; SQLite runs one writer at a time. Each pick is a range of the
    (issue_id, status, id) index, so a claim costs the same late in a large send as early.
    Returns (delivery id, subscriber id, message id, attempts) rows in id order.
    """
    expired = sa.and_(col(Delivery.status) == "sending", col(Delivery.lease_until) < now)
    queued = sa.and_(
        col(Delivery.status) == "queued",
        sa.or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now),
    )
    rows: list[tuple[int, int, str | None, int]] = []
    for due in (expired, queued):
        if len(rows) >= limit:
            break
        rows += _claim(session, issue_id, due, lease_until, worker, limit - len(rows))
    return sorted(rows)


def _claim(
    session: Session, issue_id: int, due: Any, lease_until: datetime, worker: str, limit: int
) -> list[tuple[int, int, str | None, int]]:
    pick = (
        select(col(Delivery.id))
        .where(col(Delivery.issue_id) == issue_id, due)
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    sending = sa.exists().where(col(Issue.id) == issue_id, col(Issue.status) == "sending")
    stmt = (
        sa.update(Delivery)
        .where(col(Delivery.id).in_(pick.scalar_subquery()), sending)
        .values(status="sending", lease_until=lease_until, worker=worker)
        .returning(
            col(Delivery.id),
            col(Delivery.subscriber_id),
            col(Delivery.message_id),
            col(Delivery.attempts),
        )
        .execution_options(synchronize_session=False)
    )
    return [(int(r[0]), int(r[1]), r[2], int(r[3])) for r in session.execute(stmt).all()]


def record_deliveries(session: Session, worker: str, results: Sequence[dict[str, Any]]) -> int:
    """Write send results (keys: id, status, attempts, last_reply, smtp_code, message_id,
    next_attempt_at, sent_at) for deliveries this worker still holds. Returns rows written."""
    if not results:
        return 0
    table = Delivery.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(
            table.c.id == sa.bindparam("b_id"),
            table.c.status == "sending",
            table.c.worker == worker,
        )
        .values(
            status=sa.bindparam("b_status"),
            attempts=sa.bindparam("b_attempts"),
            last_reply=sa.bindparam("b_last_reply"),
            smtp_code=sa.bindparam("b_smtp_code"),
            message_id=sa.bindparam("b_message_id"),
            next_attempt_at=sa.bindparam("b_next_attempt_at"),
            sent_at=sa.bindparam("b_sent_at"),
            lease_until=None,
        )
    )
    params = [{f"b_{k}": v for k, v in r.items()} for r in results]
    result = session.connection().execute(stmt, params)
    return int(result.rowcount or 0)


class SubscriberReader:
    """Reads a subscriber just before each message goes out, over one connection a sender
    thread holds for its run: on the hot path, so a plain DB-API query in autocommit (each read
    sees the latest committed state, and no transaction stays open)."""

    def __init__(self, engine: Engine) -> None:
        self._raw = engine.raw_connection()
        self._postgres = engine.dialect.name == "postgresql"
        if self._postgres:
            self._raw.driver_connection.autocommit = True  # type: ignore[union-attr]
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = (
            f"SELECT status, email, name, token, sections, locale FROM subscriber WHERE id = {mark}"
        )

    def read(self, subscriber_id: int) -> tuple[Any, ...] | None:
        """(status, email, name, token, sections, locale), or None when the row is gone."""
        cursor = self._raw.cursor()
        try:
            cursor.execute(self._sql, (subscriber_id,))
            row = cursor.fetchone()
        finally:
            cursor.close()
        if row is None:
            return None
        sections = row[4]
        if isinstance(sections, str | bytes):
            sections = json.loads(sections)
        return (row[0], row[1], row[2], row[3], sections, row[5])

    def close(self) -> None:
        """Give the connection back to the pool as it was taken."""
        try:
            if self._postgres:
                self._raw.driver_connection.autocommit = False  # type: ignore[union-attr]
        finally:
            self._raw.close()


def renew_leases(
    session: Session, worker: str, ids: Sequence[int], lease_until: datetime
) -> set[int]:
    """Extend the lease on deliveries this worker still holds; returns the ids it holds."""
    stmt = (
        sa.update(Delivery)
        .where(
            col(Delivery.id).in_(list(ids)),
            col(Delivery.status) == "sending",
            col(Delivery.worker) == worker,
        )
        .values(lease_until=lease_until)
        .returning(col(Delivery.id))
        .execution_options(synchronize_session=False)
    )
    return {int(r[0]) for r in session.execute(stmt).all()}


def suppress_bounced(session: Session, subscriber_ids: Iterable[int], reason: str) -> int:
    """Mark subscribers as hard-bounced (suppressed until a new confirmation)."""
    ids = list(subscriber_ids)
    if not ids:
        return 0
    now = utcnow()
    stmt = (
        sa.update(Subscriber)
        .where(col(Subscriber.id).in_(ids), col(Subscriber.status) == "active")
        .values(status="bounced", bounced_at=now, updated_at=now, suppressed_reason=reason[:500])
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def release_deliveries(session: Session, worker: str, ids: Iterable[int]) -> int:
    """Give back deliveries this worker claimed but did not send (stop, pause, outage)."""
    ids = list(ids)
    if not ids:
        return 0
    stmt = (
        sa.update(Delivery)
        .where(
            col(Delivery.id).in_(ids),
            col(Delivery.status) == "sending",
            col(Delivery.worker) == worker,
        )
        .values(status="queued", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def delivery_summary(session: Session, issue_id: int) -> dict[str, int]:
    """Deliveries by status, plus "deferred": queued ones that were tried and wait for a retry."""
    counts = delivery_counts(session, issue_id)
    stmt = (
        select(func.count())
        .select_from(Delivery)
        .where(
            col(Delivery.issue_id) == issue_id,
            col(Delivery.status) == "queued",
            col(Delivery.attempts) > 0,
        )
    )
    counts["deferred"] = int(session.exec(stmt).one())
    return counts


def next_retry_at(session: Session, issue_id: int) -> datetime | None:
    """When the earliest deferred delivery of an issue is due."""
    stmt = select(func.min(col(Delivery.next_attempt_at))).where(
        col(Delivery.issue_id) == issue_id, col(Delivery.status) == "queued"
    )
    value = session.exec(stmt).one()
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def set_issue_status(
    session: Session, issue_id: int, status: str, expect: Sequence[str], reason: str | None = None
) -> bool:
    """Change an issue's status only from one of ``expect`` (so two processes agree)."""
    values: dict[str, Any] = {"status": status, "updated_at": utcnow()}
    if status == "paused":
        values["paused_reason"] = (reason or "")[:1000]
    elif status in ("sending", "sent"):
        values["paused_reason"] = None
    if status == "sent":
        values["sent_at"] = utcnow()
    stmt = (
        sa.update(Issue)
        .where(col(Issue.id) == issue_id, col(Issue.status).in_(list(expect)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def requeue_failed(session: Session, issue_id: int) -> int:
    """Failed deliveries back to the queue (bounced ones stay: their subscriber is suppressed)."""
    stmt = (
        sa.update(Delivery)
        .where(col(Delivery.issue_id) == issue_id, col(Delivery.status) == "failed")
        .values(status="queued", next_attempt_at=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


# ---- links (click statistics) ----------------------------------------------------------------


def ensure_links(
    session: Session, issue_id: int, urls: Sequence[str], tokens: Iterator[str]
) -> dict[str, str]:
    """A Link row per URL of the issue (kept if there); returns url -> redirect token."""
    existing = {
        link.url: link.token
        for link in session.exec(select(Link).where(Link.issue_id == issue_id)).all()
    }
    missing = [u for u in dict.fromkeys(urls) if u not in existing and len(u) <= 2000]
    if missing:
        now = utcnow()
        stmt = _insert(session, Link).on_conflict_do_nothing(index_elements=["issue_id", "url"])
        session.execute(
            stmt,
            [
                {
                    "issue_id": issue_id,
                    "url": u,
                    "token": next(tokens),
                    "clicks": 0,
                    "created_at": now,
                }
                for u in missing
            ],
        )
        existing = {
            link.url: link.token
            for link in session.exec(select(Link).where(Link.issue_id == issue_id)).all()
        }
    return existing


# ---- editor actions ------------------------------------------------------------------------


def add_action(session: Session, action: IssueAction) -> IssueAction:
    """Record an editor's action."""
    session.add(action)
    session.flush()
    return action


def actions(session: Session, period: str) -> list[IssueAction]:
    """An issue's editor actions, oldest first."""
    stmt = select(IssueAction).where(IssueAction.period == period).order_by(col(IssueAction.id))
    return list(session.exec(stmt).all())


def editor_choices(session: Session, period: str) -> EditorChoices:
    """The net effect of an issue's pin, unpin, drop, restore and move actions (latest wins)."""
    pins: dict[int, str | None] = {}
    drops: set[int] = set()
    moves: dict[int, str] = {}
    for act in actions(session, period):
        if act.item_id is None:
            continue
        if act.action == "pin":
            pins[act.item_id] = act.section
            drops.discard(act.item_id)
        elif act.action == "unpin":
            pins.pop(act.item_id, None)
        elif act.action == "drop":
            drops.add(act.item_id)
            pins.pop(act.item_id, None)
        elif act.action == "restore":
            drops.discard(act.item_id)
        elif act.action == "move" and act.section:
            moves[act.item_id] = act.section
    return EditorChoices(pins=pins, drops=frozenset(drops), moves=moves)
