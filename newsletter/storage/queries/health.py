"""The health check's write: one row rewritten, to prove the database takes committed writes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from newsletter.storage.db import available_session, dialect_insert
from newsletter.storage.models import HealthCheck


def write_health_check(engine: Engine, now: datetime) -> None:
    """Commit a write to the one health_check row. DatabaseUnavailableError when the database
    cannot take writes now (locked past the wait, full, read-only, unreachable)."""
    table = HealthCheck.__table__  # type: ignore[attr-defined]
    with available_session(engine) as session:
        stmt = (
            dialect_insert(session, table)
            .values(id=1, checked_at=now)
            .on_conflict_do_update(index_elements=["id"], set_={"checked_at": now})
        )
        session.execute(stmt)
