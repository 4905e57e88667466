"""Bounce events and webhook receipts: recorded once, counted, listed per address."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.domain.bounces import BounceEvent, BounceKind, BounceSource
from newsletter.domain.statuses import SubscriberStatus
from newsletter.storage.db import dialect_insert
from newsletter.storage.models import BounceRecord, Subscriber, WebhookReceipt


def claim_receipt(session: Session, source: str, receipt_id: str, now: datetime) -> bool:
    """Record a webhook request's id; False when it was seen before (a replay)."""
    stmt = (
        dialect_insert(session, WebhookReceipt)
        .values(source=source, receipt_id=receipt_id[:200], received_at=now)
        .on_conflict_do_nothing(index_elements=["source", "receipt_id"])
        .returning(sa.column("id"))
    )
    return session.execute(stmt).first() is not None


def record_event(
    session: Session, event: BounceEvent, subscriber_id: int | None, now: datetime
) -> int | None:
    """Insert an event; its row id, or None when the same (source, event_id) is stored."""
    stmt = (
        dialect_insert(session, BounceRecord)
        .values(
            subscriber_id=subscriber_id,
            email=event.email[:320],
            kind=str(event.kind),
            source=str(event.source),
            diagnostic=event.diagnostic[:500],
            event_id=event.event_id[:300],
            occurred_at=event.occurred_at,
            received_at=now,
            suppressed=False,
        )
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(sa.column("id"))
    )
    # RETURNING, not rowcount: on PostgreSQL the rowcount after ON CONFLICT DO NOTHING did
    # not tell a skipped row from an inserted one in our tests; a returned id does.
    row = session.execute(stmt).first()
    return int(row[0]) if row is not None else None


def record_smtp_bounce(
    session: Session, subscriber_id: int, issue_id: int, reply: str, suppressed: bool, now: datetime
) -> None:
    """Keep a hard bounce seen as an SMTP reply during the send in the bounce history (one
    per issue and subscriber)."""
    email = session.exec(select(Subscriber.email).where(Subscriber.id == subscriber_id)).first()
    if email is None:
        return
    event = BounceEvent(
        email,
        BounceKind.HARD,
        BounceSource.SMTP,
        " ".join(reply.split())[:500],
        now,
        f"issue-{issue_id}/subscriber-{subscriber_id}",
    )
    record_id = record_event(session, event, subscriber_id, now)
    if record_id is not None and suppressed:
        mark_suppressing(session, record_id)


def mark_suppressing(session: Session, record_id: int) -> None:
    """Note that this event took its address off the list."""
    session.execute(
        sa.update(BounceRecord).where(col(BounceRecord.id) == record_id).values(suppressed=True)
    )


def soft_bounces_since(session: Session, email: str, since: datetime) -> int:
    """Soft bounces of an address that occurred at or after ``since``."""
    stmt = (
        select(func.count())
        .select_from(BounceRecord)
        .where(
            BounceRecord.email == email,
            BounceRecord.kind == str(BounceKind.SOFT),
            col(BounceRecord.occurred_at) >= since,
        )
    )
    return int(session.exec(stmt).one())


def suppress(
    session: Session, subscriber_id: int, kind: BounceKind, reason: str, now: datetime
) -> bool:
    """Take an active or pending subscriber off the list: bounced for a bounce, unsubscribed for
    a complaint or a mailto: unsubscribe. False when it was already suppressed."""
    values: dict[str, object] = {"updated_at": now, "suppressed_reason": reason[:500]}
    if kind in (BounceKind.HARD, BounceKind.SOFT):
        values |= {"status": SubscriberStatus.BOUNCED, "bounced_at": now}
    else:
        values |= {"status": SubscriberStatus.UNSUBSCRIBED, "unsubscribed_at": now}
    values |= {"confirm_token_hash": None, "confirm_expires_at": None}
    stmt = (
        sa.update(Subscriber)
        .where(
            col(Subscriber.id) == subscriber_id,
            col(Subscriber.status).in_([SubscriberStatus.ACTIVE, SubscriberStatus.PENDING]),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def events(session: Session, email: str | None = None, limit: int = 100) -> list[BounceRecord]:
    """The newest events, of one address or of all."""
    stmt = select(BounceRecord).order_by(
        col(BounceRecord.occurred_at).desc(), col(BounceRecord.id).desc()
    )
    if email is not None:
        stmt = stmt.where(BounceRecord.email == email)
    return list(session.exec(stmt.limit(limit)).all())


def counts_since(session: Session, since: datetime) -> dict[str, int]:
    """Events per kind that occurred at or after ``since``."""
    stmt = (
        select(BounceRecord.kind, func.count())
        .where(col(BounceRecord.occurred_at) >= since)
        .group_by(BounceRecord.kind)
    )
    return {kind: int(n) for kind, n in session.exec(stmt).all()}


def counts_by_email(session: Session) -> dict[str, dict[str, int]]:
    """Events per kind of every address that has any."""
    stmt = select(BounceRecord.email, BounceRecord.kind, func.count()).group_by(
        BounceRecord.email, BounceRecord.kind
    )
    result: dict[str, dict[str, int]] = {}
    for email, kind, n in session.exec(stmt).all():
        result.setdefault(email, {})[kind] = int(n)
    return result
