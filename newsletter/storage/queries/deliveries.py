"""Deliveries: queueing an issue, claims with a lease, send results, counts and retries."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.domain.statuses import DeliveryStatus, IssueStatus, SubscriberStatus
from newsletter.storage.db import dialect_insert
from newsletter.storage.models import Delivery, Issue, Subscriber, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    """Deliveries of an issue by status: queued (new, or waiting for a retry), being sent
    under a lease, or done (sent, failed, bounced, skipped)."""

    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    skipped: int = 0

    def to_dict(self) -> dict[str, int]:
        """The statuses that occur (by name) with their counts, as `newsletter status` shows."""
        counts = {f.name: getattr(self, f.name) for f in fields(self)}
        statuses = sorted(s for s in DeliveryStatus if counts[s])
        return {**{str(s): counts[s] for s in statuses}, **self._extra()}

    def _extra(self) -> dict[str, int]:
        return {}


@dataclass(frozen=True, slots=True)
class DeliverySummary(DeliveryCounts):
    """Deliveries by status, plus the queued ones that were tried and wait for a retry."""

    deferred: int = 0

    def _extra(self) -> dict[str, int]:
        return {"deferred": self.deferred}


@dataclass(frozen=True, slots=True)
class Claim:
    """A delivery a sender holds with a lease: whom to send to, and what happened before."""

    id: int
    subscriber_id: int
    message_id: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What sending one delivery did, as written back to its row."""

    id: int
    status: DeliveryStatus
    attempts: int
    last_reply: str
    message_id: str
    smtp_code: int | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None


def delivery_count(session: Session, issue_id: int, status: str | None = None) -> int:
    """How many deliveries an issue has (of one status)."""
    stmt = select(func.count()).select_from(Delivery).where(Delivery.issue_id == issue_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    return int(session.exec(stmt).one())


def delivery_counts(session: Session, issue_id: int) -> DeliveryCounts:
    """Deliveries of an issue by status."""
    stmt = (
        select(Delivery.status, func.count())
        .where(Delivery.issue_id == issue_id)
        .group_by(col(Delivery.status))
    )
    known = {f.name for f in fields(DeliveryCounts)}
    counts: dict[str, int] = {}
    for status, n in session.exec(stmt).all():
        if str(status) in known:
            counts[str(status)] = int(n)
        else:  # written by a newer version, or by hand: counted nowhere, said once
            log.warning("issue %s: %d deliveries with unknown status %r", issue_id, n, status)
    return DeliveryCounts(**counts)


def delivery_summary(session: Session, issue_id: int) -> DeliverySummary:
    """Deliveries by status, plus "deferred": queued ones that were tried and wait for a retry."""
    counts = delivery_counts(session, issue_id)
    stmt = (
        select(func.count())
        .select_from(Delivery)
        .where(
            col(Delivery.issue_id) == issue_id,
            col(Delivery.status) == DeliveryStatus.QUEUED,
            col(Delivery.attempts) > 0,
        )
    )
    deferred = int(session.exec(stmt).one())
    by_status = {f.name: getattr(counts, f.name) for f in fields(counts)}
    return DeliverySummary(**by_status, deferred=deferred)


def queue_active_subscribers(session: Session, issue_id: int) -> int:
    """One queued delivery per active subscriber (existing ones kept), in one INSERT ... SELECT:
    the subscriber list is never loaded. Returns the rows added."""
    before = delivery_count(session, issue_id)
    source = sa.select(
        sa.literal(issue_id),
        col(Subscriber.id),
        sa.literal(str(DeliveryStatus.QUEUED)),
        sa.literal(0),
        sa.literal(utcnow().replace(tzinfo=None)),
    ).where(col(Subscriber.status) == SubscriberStatus.ACTIVE)
    stmt = (
        dialect_insert(session, Delivery)
        .from_select(["issue_id", "subscriber_id", "status", "attempts", "created_at"], source)
        .on_conflict_do_nothing(index_elements=["issue_id", "subscriber_id"])
    )
    session.execute(stmt)
    return delivery_count(session, issue_id) - before


def claim_batch(
    session: Session, issue_id: int, now: datetime, lease_until: datetime, worker: str, limit: int
) -> list[Claim]:
    """Take up to ``limit`` due deliveries of a sending issue for this worker, with a lease:
    first those whose sender's lease ran out, then queued ones whose retry time has come.

    On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED, so any number of workers share
    an issue without overlap; SQLite runs one writer at a time. Each pick is a range of the
    (issue_id, status, id) index, so a claim costs the same late in a large send as early.
    Returns the claims in id order.
    """
    expired = sa.and_(
        col(Delivery.status) == DeliveryStatus.SENDING, col(Delivery.lease_until) < now
    )
    queued = sa.and_(
        col(Delivery.status) == DeliveryStatus.QUEUED,
        sa.or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now),
    )
    rows: list[Claim] = []
    for due in (expired, queued):
        if len(rows) >= limit:
            break
        rows += _claim(session, issue_id, due, lease_until, worker, limit - len(rows))
    return sorted(rows, key=lambda claim: claim.id)


def _claim(
    session: Session, issue_id: int, due: Any, lease_until: datetime, worker: str, limit: int
) -> list[Claim]:
    pick = (
        select(col(Delivery.id))
        .where(col(Delivery.issue_id) == issue_id, due)
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    sending = sa.exists().where(col(Issue.id) == issue_id, col(Issue.status) == IssueStatus.SENDING)
    stmt = (
        sa.update(Delivery)
        .where(col(Delivery.id).in_(pick.scalar_subquery()), sending)
        .values(status=DeliveryStatus.SENDING, lease_until=lease_until, worker=worker)
        .returning(
            col(Delivery.id),
            col(Delivery.subscriber_id),
            col(Delivery.message_id),
            col(Delivery.attempts),
        )
        .execution_options(synchronize_session=False)
    )
    return [Claim(int(r[0]), int(r[1]), r[2], int(r[3])) for r in session.execute(stmt).all()]


def record_deliveries(session: Session, worker: str, results: Sequence[DeliveryResult]) -> int:
    """Write send results for deliveries this worker still holds. Returns rows written."""
    if not results:
        return 0
    table = Delivery.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(
            table.c.id == sa.bindparam("b_id"),
            table.c.status == DeliveryStatus.SENDING,
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
    params = [{f"b_{f.name}": getattr(r, f.name) for f in fields(r)} for r in results]
    result = session.connection().execute(stmt, params)
    return int(result.rowcount or 0)


def renew_leases(
    session: Session, worker: str, ids: Sequence[int], lease_until: datetime
) -> set[int]:
    """Extend the lease on deliveries this worker still holds; returns the ids it holds."""
    stmt = (
        sa.update(Delivery)
        .where(
            col(Delivery.id).in_(list(ids)),
            col(Delivery.status) == DeliveryStatus.SENDING,
            col(Delivery.worker) == worker,
        )
        .values(lease_until=lease_until)
        .returning(col(Delivery.id))
        .execution_options(synchronize_session=False)
    )
    return {int(r[0]) for r in session.execute(stmt).all()}


def release_deliveries(session: Session, worker: str, ids: Iterable[int]) -> int:
    """Give back deliveries this worker claimed but did not send (stop, pause, outage)."""
    ids = list(ids)
    if not ids:
        return 0
    stmt = (
        sa.update(Delivery)
        .where(
            col(Delivery.id).in_(ids),
            col(Delivery.status) == DeliveryStatus.SENDING,
            col(Delivery.worker) == worker,
        )
        .values(status=DeliveryStatus.QUEUED, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def next_retry_at(session: Session, issue_id: int) -> datetime | None:
    """When the earliest deferred delivery of an issue is due."""
    stmt = select(func.min(col(Delivery.next_attempt_at))).where(
        col(Delivery.issue_id) == issue_id, col(Delivery.status) == DeliveryStatus.QUEUED
    )
    value = session.exec(stmt).one()
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def requeue_failed(session: Session, issue_id: int) -> int:
    """Failed deliveries back to the queue (bounced ones stay: their subscriber is suppressed)."""
    stmt = (
        sa.update(Delivery)
        .where(col(Delivery.issue_id) == issue_id, col(Delivery.status) == DeliveryStatus.FAILED)
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def attempted_subscriber_ids(session: Session, issue_id: int) -> set[int]:
    """Subscribers whose delivery of an issue is no longer simply queued."""
    rows = session.exec(
        select(Delivery.subscriber_id).where(
            Delivery.issue_id == issue_id, Delivery.status != DeliveryStatus.QUEUED
        )
    ).all()
    return set(rows)


@dataclass(frozen=True, slots=True)
class DeliveryError:
    """A refused or deferred delivery: to whom, and the server's reply."""

    email: str
    reply: str


def recent_errors(session: Session, issue_id: int, limit: int = 5) -> list[DeliveryError]:
    """An issue's latest refused or deferred deliveries, newest first."""
    rows = session.exec(
        select(Subscriber.email, Delivery.last_reply)
        .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id))
        .where(
            Delivery.issue_id == issue_id,
            col(Delivery.status).in_(
                [DeliveryStatus.FAILED, DeliveryStatus.BOUNCED, DeliveryStatus.QUEUED]
            ),
            Delivery.attempts > 0,
        )
        .order_by(col(Delivery.id).desc())
        .limit(limit)
    ).all()
    return [DeliveryError(email, reply or "") for email, reply in rows]
