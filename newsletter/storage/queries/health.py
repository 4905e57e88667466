"""The health check's write: one row rewritten, to prove the database takes committed writes."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from newsletter.storage.db import dialect_insert
from newsletter.storage.models import HealthCheck


def write_health_check(session: Session, now: datetime) -> None:
    """Upsert the one health_check row (id 1) with the session's transaction; the caller's
    commit is the proof."""
    table = HealthCheck.__table__  # type: ignore[attr-defined]
    stmt = (
        dialect_insert(session, table)
        .values(id=1, checked_at=now)
        .on_conflict_do_update(index_elements=["id"], set_={"checked_at": now})
    )
    session.execute(stmt)
