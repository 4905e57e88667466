"""The workbench's reads of the audience and of what readers did: subscriber search with
paging, one subscriber's deliveries, and an issue's clicks per link and per reader."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.domain.bounces import BounceKind, BounceSource
from newsletter.domain.statuses import FROZEN
from newsletter.storage.models import BounceRecord, Click, Delivery, Issue, Link, Subscriber


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(stmt: sa.Select, query: str, statuses: Sequence[str]) -> sa.Select:  # type: ignore[type-arg]
    if query:
        pattern = f"%{_escape_like(query.lower())}%"
        stmt = stmt.where(
            sa.or_(
                func.lower(col(Subscriber.email)).like(pattern, escape="\\"),
                func.lower(sa.func.coalesce(col(Subscriber.name), "")).like(pattern, escape="\\"),
            )
        )
    if statuses:
        stmt = stmt.where(col(Subscriber.status).in_(list(statuses)))
    return stmt


def search_subscribers(
    session: Session, query: str, statuses: Sequence[str], offset: int, limit: int
) -> tuple[list[Subscriber], int]:
    """Subscribers whose address or name contains ``query`` (any case), of the given statuses
    (all when empty), by address: one page of them and how many match in all."""
    total = int(
        session.execute(
            _filtered(sa.select(func.count()).select_from(Subscriber), query, statuses)
        ).scalar_one()
    )
    stmt = _filtered(select(Subscriber), query, statuses)
    rows = session.execute(stmt.order_by(col(Subscriber.email)).offset(offset).limit(limit))
    return list(rows.scalars().all()), total


def status_counts(session: Session) -> dict[str, int]:
    """Subscribers per status."""
    stmt = select(Subscriber.status, func.count()).group_by(col(Subscriber.status))
    return {str(status): int(n) for status, n in session.exec(stmt).all()}


def subscriber_by_id(session: Session, subscriber_id: int) -> Subscriber | None:
    """A subscriber by row id."""
    return session.get(Subscriber, subscriber_id)


def bounce_counts(session: Session, emails: Sequence[str]) -> dict[str, int]:
    """Recorded bounce events (of any kind) per address, for the given addresses."""
    if not emails:
        return {}
    stmt = (
        select(BounceRecord.email, func.count())
        .where(col(BounceRecord.email).in_(list(emails)))
        .group_by(col(BounceRecord.email))
    )
    return {email: int(n) for email, n in session.exec(stmt).all()}


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One issue sent (or tried) to a subscriber."""

    period: str
    subject: str
    status: str
    sent_at: datetime | None
    last_reply: str | None


def deliveries_of(session: Session, subscriber_id: int, limit: int = 20) -> list[DeliveryLine]:
    """A subscriber's deliveries, newest issue first."""
    stmt = (
        sa.select(
            col(Issue.period),
            col(Issue.subject),
            col(Delivery.status),
            col(Delivery.sent_at),
            col(Delivery.last_reply),
        )
        .join(Issue, col(Issue.id) == col(Delivery.issue_id))
        .where(col(Delivery.subscriber_id) == subscriber_id)
        .order_by(col(Issue.period).desc())
        .limit(limit)
    )
    return [DeliveryLine(*row) for row in session.execute(stmt).all()]


def link_clicks(session: Session, issue_id: int) -> list[tuple[int, str, int]]:
    """(link id, url, clicks) of every tracked link of an issue."""
    stmt = select(Link.id, Link.url, Link.clicks).where(Link.issue_id == issue_id)
    return [(int(i), str(u), int(n)) for i, u, n in session.exec(stmt).all() if i is not None]


def clicker_pairs(session: Session, issue_id: int) -> list[tuple[int, int]]:
    """The distinct (link id, subscriber id) of an issue's clicks that name their reader."""
    stmt = (
        select(Click.link_id, Click.subscriber_id)
        .where(Click.issue_id == issue_id, col(Click.subscriber_id).is_not(None))
        .distinct()
    )
    return [(int(link), int(sub)) for link, sub in session.exec(stmt).all() if sub is not None]


def click_people(session: Session, issue_id: int) -> tuple[int, int]:
    """Of an issue's click rows: distinct readers named, and clicks that name nobody."""
    named = session.exec(
        select(func.count(sa.distinct(col(Click.subscriber_id)))).where(
            Click.issue_id == issue_id, col(Click.subscriber_id).is_not(None)
        )
    ).one()
    anonymous = session.exec(
        select(func.count()).where(Click.issue_id == issue_id, col(Click.subscriber_id).is_(None))
    ).one()
    return int(named), int(anonymous)


def reported_bounces_between(
    session: Session, start: datetime, end: datetime | None
) -> dict[str, int]:
    """Bounces and complaints reported after the send (bounce mailbox, webhooks; not the
    relay's replies during the send, which the deliveries count) that occurred in
    [start, end), per kind."""
    stmt = select(BounceRecord.kind, func.count()).where(
        col(BounceRecord.occurred_at) >= start,
        col(BounceRecord.source) != str(BounceSource.SMTP),
        col(BounceRecord.kind).in_(
            [str(BounceKind.HARD), str(BounceKind.SOFT), str(BounceKind.COMPLAINT)]
        ),
    )
    if end is not None:
        stmt = stmt.where(col(BounceRecord.occurred_at) < end)
    return {str(kind): int(n) for kind, n in session.exec(stmt.group_by(BounceRecord.kind)).all()}


def frozen_issues(session: Session, limit: int) -> list[Issue]:
    """The latest issues that went out (sending, paused or sent), newest period first."""
    stmt = (
        select(Issue)
        .where(col(Issue.status).in_([str(s) for s in FROZEN]))
        .order_by(col(Issue.period).desc())
        .limit(limit)
    )
    return list(session.exec(stmt).all())
