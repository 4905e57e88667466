"""Feed claims for ingest workers: due feeds taken with a lease, heartbeats, give-backs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from newsletter.storage.models import Feed


def claim_due_feeds(
    session: Session,
    now: datetime,
    lease_until: datetime,
    worker: str,
    limit: int,
    due_by: datetime | None = None,
) -> list[int]:
    """Take up to ``limit`` feeds due for polling for this worker, with a lease; returns their
    ids, the longest-waiting first.

    Due: enabled in feeds.yaml, not disabled by polling, past both its adaptive poll time
    (``poll_due_at``) and its failure back-off (``next_poll_at``), and held by no live lease
    (a dead worker's claims are taken again once its lease has run out). On PostgreSQL the rows
    are picked FOR UPDATE SKIP LOCKED, so any number of workers claim without overlap or
    waiting; SQLite runs one writer at a time, which gives the same result on one machine.
    ``due_by`` (default ``now``) also takes feeds due a little later: a scheduled pass that
    fires on the hour polls a feed due at one minute past.
    """
    due_by = due_by or now
    due = sa.and_(
        col(Feed.enabled).is_(True),
        col(Feed.auto_disabled_at).is_(None),
        sa.or_(col(Feed.poll_due_at).is_(None), col(Feed.poll_due_at) <= due_by),
        sa.or_(col(Feed.next_poll_at).is_(None), col(Feed.next_poll_at) <= due_by),
        sa.or_(col(Feed.lease_until).is_(None), col(Feed.lease_until) < now),
    )
    pick = (
        select(col(Feed.id))
        .where(due)
        .order_by(sa.nulls_first(col(Feed.poll_due_at)), col(Feed.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        sa.update(Feed)
        .where(col(Feed.id).in_(pick.scalar_subquery()))
        .values(lease_owner=worker, lease_until=lease_until)
        .returning(col(Feed.id), col(Feed.poll_due_at))
        .execution_options(synchronize_session=False)
    )
    rows = list(session.execute(stmt).all())
    # Oldest due first (never polled first), so a backlog is worked through in order.
    rows.sort(key=lambda r: (r[1] is not None, r[1] or now, r[0]))
    return [int(r[0]) for r in rows]


def claimed_feeds(session: Session, worker: str, ids: Sequence[int]) -> list[Feed]:
    """The rows of feeds this worker holds, by id."""
    if not ids:
        return []
    stmt = select(Feed).where(col(Feed.id).in_(list(ids)), col(Feed.lease_owner) == worker)
    return sorted(session.exec(stmt).all(), key=lambda f: f.id or 0)


def renew_feed_leases(
    session: Session, worker: str, ids: Sequence[int], lease_until: datetime
) -> set[int]:
    """Extend this worker's lease on the feeds it still holds (a heartbeat); returns them."""
    if not ids:
        return set()
    stmt = (
        sa.update(Feed)
        .where(col(Feed.id).in_(list(ids)), col(Feed.lease_owner) == worker)
        .values(lease_until=lease_until)
        .returning(col(Feed.id))
        .execution_options(synchronize_session=False)
    )
    return {int(r[0]) for r in session.execute(stmt).all()}


def release_feeds(session: Session, worker: str, ids: Iterable[int]) -> int:
    """Give back feeds this worker claimed (polled, or not polled because it is stopping)."""
    ids = list(ids)
    if not ids:
        return 0
    stmt = (
        sa.update(Feed)
        .where(col(Feed.id).in_(ids), col(Feed.lease_owner) == worker)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
