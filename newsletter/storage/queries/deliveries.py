"""Deliveries: queueing an issue, claims with a lease, send results, counts and retries."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from newsletter.domain.statuses import DeliveryStatus, IssueStatus, SubscriberStatus
from newsletter.errors import DatabaseUnavailableError
from newsletter.storage.db import Engine, dialect_insert, outage_as_error
from newsletter.storage.models import Delivery, Issue, Sender, Subscriber, utcnow

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
    taken_over: bool = False  # it was held by a sender that stopped (stale heartbeat, lease)


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
    session: Session,
    issue_id: int,
    now: datetime,
    lease_until: datetime,
    worker: str,
    limit: int,
    stale_before: datetime | None = None,
) -> list[Claim]:
    """Take up to ``limit`` due deliveries of a sending issue for this worker, with a lease:
    first those whose sender is gone (its lease ran out, or its heartbeat is older than
    ``stale_before``, or it has no sender row), then queued ones whose retry time has come.

    On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED, so any number of workers share
    an issue without overlap; SQLite runs one writer at a time. Each pick is a range of the
    (issue_id, status, id) index, so a claim costs the same late in a large send as early.
    Returns the claims in id order.
    """
    gone = col(Delivery.lease_until) < now
    if stale_before is not None:
        alive = sa.exists().where(
            col(Sender.name) == col(Delivery.worker), col(Sender.heartbeat_at) >= stale_before
        )
        gone = sa.or_(gone, ~alive)
    expired = sa.and_(col(Delivery.status) == DeliveryStatus.SENDING, gone)
    queued = sa.and_(
        col(Delivery.status) == DeliveryStatus.QUEUED,
        sa.or_(col(Delivery.next_attempt_at).is_(None), col(Delivery.next_attempt_at) <= now),
    )
    rows: list[Claim] = []
    for due, taken_over in ((expired, True), (queued, False)):
        if len(rows) >= limit:
            break
        claims = _claim(session, issue_id, due, lease_until, worker, limit - len(rows))
        rows += [replace(c, taken_over=True) for c in claims] if taken_over else claims
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


# SQLite has one writer: the sender threads of a process take turns here instead of in SQLite's
# busy handler, which sleeps 1 to 100 ms each time it finds the database locked.
_SQLITE_WRITES = threading.Lock()


def write_turn(engine: Engine) -> AbstractContextManager[object]:
    """Hold this around a write transaction of a sender thread: on SQLite the threads of a
    process then never wait in the busy handler for each other."""
    return _SQLITE_WRITES if engine.dialect.name == "sqlite" else nullcontext()


class DeliveryRecorder:
    """Writes each message's result on one connection a sender thread holds, committed before
    its next message: a SIGKILL then loses at most the message on the wire. The same commit
    suppresses a hard-bounced subscriber. On the hot path, so plain DB-API statements (the
    datetime columns converted as SQLAlchemy would). On PostgreSQL the connection commits with
    ``synchronous_commit = off``: the result is visible at once and survives the sending
    process; only a crash of the database server itself could lose the last fraction of a
    second (those copies would go again, with the same Message-ID)."""

    def __init__(self, engine: Engine, worker: str) -> None:
        self._engine = engine
        self._worker = worker
        self._raw: Any = None
        self._saved: object = None
        self._postgres = engine.dialect.name == "postgresql"
        dbapi = engine.dialect.loaded_dbapi
        self._lost = (dbapi.OperationalError, dbapi.InterfaceError)
        self._turns = write_turn(engine)
        time_type = Delivery.__table__.c.sent_at.type  # type: ignore[attr-defined]
        self._time = time_type.bind_processor(engine.dialect) or (lambda value: value)
        m = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        sending = str(DeliveryStatus.SENDING)
        self._record_sql = (
            f"UPDATE delivery SET status = {m}, attempts = {m}, last_reply = {m}, "
            f"smtp_code = {m}, message_id = {m}, next_attempt_at = {m}, sent_at = {m}, "
            f"lease_until = NULL WHERE id = {m} AND status = '{sending}' AND worker = {m}"
        )
        self._bounce_sql = (
            f"UPDATE subscriber SET status = '{SubscriberStatus.BOUNCED}', bounced_at = {m}, "
            f"suppressed_reason = {m}, updated_at = {m} WHERE id = (SELECT subscriber_id FROM "
            f"delivery WHERE id = {m}) AND status = '{SubscriberStatus.ACTIVE}'"
        )

    def record(self, result: DeliveryResult, bounced_reply: str | None = None) -> int:
        """Write one result (and suppress its subscriber on a hard bounce) and commit; returns
        1 when written, 0 when this worker no longer held the delivery.
        DatabaseUnavailableError when the database does not answer: nothing was written."""
        fresh = self._raw is None
        try:
            return self._record(result, bounced_reply)
        except DatabaseUnavailableError:
            if fresh:
                raise
            # A connection opened before an outage: try once more on a new one.
            return self._record(result, bounced_reply)

    def _record(self, result: DeliveryResult, bounced_reply: str | None) -> int:
        to_db = self._time
        params = (
            str(result.status),
            result.attempts,
            result.last_reply,
            result.smtp_code,
            result.message_id,
            to_db(result.next_attempt_at),
            to_db(result.sent_at),
            result.id,
            self._worker,
        )
        with self._turns:
            try:
                raw = self._connection()
                cursor = raw.cursor()
                try:
                    if bounced_reply is None:
                        cursor.execute(self._record_sql, params)
                        written = int(cursor.rowcount or 0)
                    else:
                        now = to_db(utcnow())
                        reason = f"hard bounce: {bounced_reply}"[:500]
                        cursor.execute("BEGIN")
                        cursor.execute(self._record_sql, params)
                        written = int(cursor.rowcount or 0)
                        cursor.execute(self._bounce_sql, (now, reason, now, result.id))
                        cursor.execute("COMMIT")
                finally:
                    cursor.close()
            except self._lost as exc:
                self._drop(broken=True)
                raise DatabaseUnavailableError(
                    f"the database did not answer while recording a delivery result: {exc}"
                ) from exc
            except BaseException:
                self._drop(broken=True)
                raise
        return written

    def _connection(self) -> Any:
        if self._raw is None:
            # engine.raw_connection() raises the driver's own errors (caught by the caller),
            # or SQLAlchemy's.
            with outage_as_error("recording a delivery result"):
                raw = self._engine.raw_connection()
            try:
                if self._postgres:
                    cursor = raw.cursor()
                    cursor.execute("SET synchronous_commit = off")
                    cursor.close()
                    raw.commit()
                # Autocommit: a result is one statement, its own transaction (no BEGIN, no
                # COMMIT round trip); a bounce takes an explicit transaction.
                self._saved = _set_autocommit(raw, self._postgres, None)
            except BaseException:
                raw.invalidate()
                raw.close()
                raise
            self._raw = raw
        return self._raw

    def _drop(self, *, broken: bool) -> None:
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            if broken:
                raw.invalidate()  # the pool must not get it back
                return
            _set_autocommit(raw, self._postgres, self._saved)
            if self._postgres:
                cursor = raw.cursor()
                cursor.execute("RESET synchronous_commit")
                cursor.close()
                raw.commit()
        except self._lost:
            raw.invalidate()
        finally:
            raw.close()

    def close(self) -> None:
        """Give the connection back to the pool as it was taken."""
        self._drop(broken=False)


def _set_autocommit(raw: Any, postgres: bool, saved: object) -> object:
    """Autocommit on a pooled DB-API connection (``saved`` None), or back as it was (``saved``
    from the first call); returns the setting before."""
    driver = raw.driver_connection
    if postgres:
        before = driver.autocommit
        driver.autocommit = True if saved is None else saved
    else:  # sqlite3 before Python 3.12: isolation_level None is autocommit
        before = driver.isolation_level
        driver.isolation_level = None if saved is None else saved
    return before


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
