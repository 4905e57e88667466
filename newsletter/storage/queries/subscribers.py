"""Subscribers: lookups by address and token, suppression, and the sender's hot-path read."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from newsletter.domain.statuses import SubscriberStatus
from newsletter.errors import DatabaseUnavailableError
from newsletter.storage.db import outage_as_error
from newsletter.storage.models import Subscriber, utcnow


def get_subscriber(session: Session, email: str) -> Subscriber | None:
    """A subscriber by normalized address."""
    return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def subscriber_by_token(session: Session, token: str) -> Subscriber | None:
    """The subscriber holding an unsubscribe/preferences token."""
    return session.exec(select(Subscriber).where(Subscriber.token == token)).first()


def subscriber_id_by_token(session: Session, token: str) -> int | None:
    """The id of the subscriber holding a token (no row loaded)."""
    return session.exec(select(Subscriber.id).where(Subscriber.token == token)).first()


def subscriber_by_confirm_hash(session: Session, token_hash: str) -> Subscriber | None:
    """The subscriber whose pending confirmation token has this SHA-256."""
    return session.exec(
        select(Subscriber).where(Subscriber.confirm_token_hash == token_hash)
    ).first()


def list_subscribers(session: Session, status: str | None = None) -> list[Subscriber]:
    """Subscribers, optionally of one status, by address."""
    stmt = select(Subscriber).order_by(col(Subscriber.email))
    if status:
        stmt = stmt.where(Subscriber.status == status)
    return list(session.exec(stmt).all())


def save_subscriber(session: Session, subscriber: Subscriber) -> None:
    """Write a new or changed subscriber row with the session's transaction."""
    session.add(subscriber)


def insert_subscriber(session: Session, subscriber: Subscriber) -> None:
    """Insert a new subscriber now: IntegrityError here when the address was inserted
    concurrently (the caller retries)."""
    session.add(subscriber)
    session.flush()


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One address to add from an import: normalized address and clean name."""

    email: str
    name: str | None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What adding one batch of addresses did, counted by outcome."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    suppressed: int = 0


def add_subscribers(
    session: Session,
    rows: Sequence[ImportRow],
    source: str,
    tokens: Iterator[str],
    suppressed: Iterable[str],
    now: datetime,
    update_names: bool = False,
) -> BatchOutcome:
    """Add a batch of addresses in the session's transaction, with three statements (one
    SELECT, one multi-row INSERT, one executemany UPDATE) instead of two per row: new ones
    become active, existing ones keep their name (unless it is empty, or ``update_names``),
    suppressed ones (``suppressed`` statuses)
    stay as they are. IntegrityError when an address was inserted concurrently (the caller
    retries the batch)."""
    if not rows:
        return BatchOutcome()
    table = Subscriber.__table__  # type: ignore[attr-defined]
    found = {
        email: (sub_id, status, name)
        for sub_id, email, status, name in session.execute(
            sa.select(table.c.id, table.c.email, table.c.status, table.c.name).where(
                table.c.email.in_([row.email for row in rows])
            )
        )
    }
    held = set(suppressed)
    new: list[dict[str, object]] = []
    renamed: list[dict[str, object]] = []
    counts = {"suppressed": 0, "unchanged": 0}
    for row in rows:
        existing = found.get(row.email)
        if existing is None:
            new.append(
                {
                    "email": row.email,
                    "name": row.name,
                    "status": SubscriberStatus.ACTIVE,
                    "token": next(tokens),
                    "source": source,
                    "consent_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif existing[1] in held:
            counts["suppressed"] += 1
        elif row.name and existing[2] != row.name and (update_names or not existing[2]):
            renamed.append({"row_id": existing[0], "new_name": row.name, "now": now})
        else:
            counts["unchanged"] += 1
    if new:
        session.execute(sa.insert(table), new)
    if renamed:
        session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(name=sa.bindparam("new_name"), updated_at=sa.bindparam("now")),
            renamed,
        )
    return BatchOutcome(len(new), len(renamed), counts["unchanged"], counts["suppressed"])


def unsubscribed_between(session: Session, start: datetime, end: datetime | None) -> int:
    """How many subscribers unsubscribed at or after ``start`` (and before ``end``)."""
    stmt = (
        select(func.count()).select_from(Subscriber).where(col(Subscriber.unsubscribed_at) >= start)
    )
    if end is not None:
        stmt = stmt.where(col(Subscriber.unsubscribed_at) < end)
    return int(session.exec(stmt).one())


def suppress_bounced(session: Session, subscriber_ids: Iterable[int], reason: str) -> int:
    """Mark subscribers as hard-bounced (suppressed until a new confirmation)."""
    ids = list(subscriber_ids)
    if not ids:
        return 0
    now = utcnow()
    stmt = (
        sa.update(Subscriber)
        .where(col(Subscriber.id).in_(ids), col(Subscriber.status) == SubscriberStatus.ACTIVE)
        .values(
            status=SubscriberStatus.BOUNCED,
            bounced_at=now,
            updated_at=now,
            suppressed_reason=reason[:500],
        )
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Recipient:
    """What sending one message needs of its subscriber, read just before it goes."""

    status: str
    email: str
    name: str | None
    token: str
    sections: list[str] | None
    locale: str | None


class SubscriberReader:
    """Reads a subscriber just before each message goes out, over one connection a sender
    thread holds for its run: on the hot path, so a plain DB-API query in autocommit (each read
    sees the latest committed state, and no transaction stays open). A lost connection is
    dropped and opened again on the next read."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._raw: Any = None
        self._postgres = engine.dialect.name == "postgresql"
        dbapi = engine.dialect.loaded_dbapi
        self._lost = (dbapi.OperationalError, dbapi.InterfaceError)
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = (
            f"SELECT status, email, name, token, sections, locale FROM subscriber WHERE id = {mark}"
        )

    def read(self, subscriber_id: int) -> Recipient | None:
        """The subscriber as a Recipient, or None when the row is gone.
        DatabaseUnavailableError when the database does not answer."""
        fresh = self._raw is None
        try:
            return self._read(subscriber_id)
        except DatabaseUnavailableError:
            if fresh:
                raise
            # A connection opened before an outage: try once more on a new one.
            return self._read(subscriber_id)

    def _read(self, subscriber_id: int) -> Recipient | None:
        try:
            # engine.raw_connection() raises the driver's own errors, not SQLAlchemy's.
            with outage_as_error("reading a subscriber"):
                if self._raw is None:
                    self._raw = self._engine.raw_connection()
                    if self._postgres:
                        self._raw.driver_connection.autocommit = True
        except self._lost as exc:
            raise DatabaseUnavailableError(
                f"the database did not answer while reading a subscriber: {exc}"
            ) from exc
        try:
            cursor = self._raw.cursor()
            try:
                cursor.execute(self._sql, (subscriber_id,))
                row = cursor.fetchone()
            finally:
                cursor.close()
        except self._lost as exc:
            raw, self._raw = self._raw, None
            raw.invalidate()
            raise DatabaseUnavailableError(
                f"the database did not answer while reading a subscriber: {exc}"
            ) from exc
        if row is None:
            return None
        sections = row[4]
        if isinstance(sections, str | bytes):
            sections = json.loads(sections)
        return Recipient(row[0], row[1], row[2], row[3], sections, row[5])

    def close(self) -> None:
        """Give the connection back to the pool as it was taken."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            if self._postgres:
                raw.driver_connection.autocommit = False
        except self._lost:
            raw.invalidate()
        finally:
            raw.close()
