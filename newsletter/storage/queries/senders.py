"""Sending processes: registration, heartbeats, and who holds which deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func

from newsletter.domain.statuses import DeliveryStatus
from newsletter.storage.models import Delivery, Sender


@dataclass(frozen=True, slots=True)
class Holder:
    """A sender holding deliveries of an issue: who, since when, how alive, how many."""

    name: str  # host:pid:random, as on delivery.worker
    host: str | None  # None: no sender row (it ended without giving these back)
    pid: int | None
    started_at: datetime | None
    heartbeat_at: datetime | None
    held: int

    def is_alive(self, stale_before: datetime) -> bool:
        """Whether its heartbeat is recent enough for its claims to be left to it."""
        return self.heartbeat_at is not None and self.heartbeat_at >= stale_before

    def describe(self, now: datetime, stale_before: datetime) -> str:
        """One line for `send` and `status`: what is held, by which process, since when."""
        if self.host is None or self.started_at is None or self.heartbeat_at is None:
            return f"{self.held} held by {self.name} (no heartbeat: taken over now)"
        beat = max(0.0, (now - self.heartbeat_at).total_seconds())
        state = "alive" if self.is_alive(stale_before) else "stale: taken over by the next sender"
        return (
            f"{self.held} held by process {self.pid} on {self.host} ({self.name}), sending since "
            f"{self.started_at:%Y-%m-%d %H:%M:%S} UTC, last heartbeat {beat:.0f} s ago ({state})"
        )


def register_sender(session: Session, name: str, host: str, pid: int, now: datetime) -> None:
    """Record a sending process before it claims anything."""
    session.add(Sender(name=name, host=host[:100], pid=pid, started_at=now, heartbeat_at=now))


def heartbeat(session: Session, name: str, host: str, pid: int, now: datetime) -> None:
    """Say this sender is alive; its row is made again if it was pruned (after an outage)."""
    result = session.execute(
        sa.update(Sender)
        .where(col(Sender.name) == name)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        register_sender(session, name, host, pid, now)


def remove_sender(session: Session, name: str) -> None:
    """A sender that ended (its claims recorded or given back) leaves."""
    session.execute(
        sa.delete(Sender)
        .where(col(Sender.name) == name)
        .execution_options(synchronize_session=False)
    )


def prune_senders(session: Session, stale_before: datetime) -> int:
    """Forget dead senders that hold nothing any more; returns how many."""
    holds = sa.exists().where(
        col(Delivery.worker) == col(Sender.name), col(Delivery.status) == DeliveryStatus.SENDING
    )
    result = session.execute(
        sa.delete(Sender)
        .where(col(Sender.heartbeat_at) < stale_before, ~holds)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def holders(session: Session, issue_id: int, exclude: str | None = None) -> list[Holder]:
    """Who holds the issue's deliveries in status sending (other than ``exclude``), most first."""
    columns = (
        col(Delivery.worker),
        col(Sender.host),
        col(Sender.pid),
        col(Sender.started_at),
        col(Sender.heartbeat_at),
    )
    stmt = (
        sa.select(*columns, func.count())
        .select_from(Delivery)
        .join(Sender, col(Sender.name) == col(Delivery.worker), isouter=True)
        .where(col(Delivery.issue_id) == issue_id, col(Delivery.status) == DeliveryStatus.SENDING)
        .group_by(*columns)
    )
    out = [
        Holder(str(worker or "?"), host, pid, started, beat, int(n))
        for worker, host, pid, started, beat, n in session.execute(stmt).all()
        if exclude is None or worker != exclude
    ]
    return sorted(out, key=lambda h: -h.held)
