"""Health for load balancers and monitoring: does the database answer, and take a write."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from newsletter.errors import DatabaseUnavailableError
from newsletter.service.app import App
from newsletter.storage.db import SQLAlchemyError, available_session, ping
from newsletter.storage.models import utcnow
from newsletter.storage.queries.health import write_health_check

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DatabaseHealth:
    """``database`` is ``ok``, ``not writable`` (it answers reads but a committed write fails:
    locked past the wait, disk full, read-only) or ``error`` (it does not answer)."""

    database: str

    @property
    def ok(self) -> bool:
        """Whether the database answers and takes writes."""
        return self.database == "ok"


def database_health(app: App) -> DatabaseHealth:
    """``SELECT 1``, then a committed write to the health_check row; failures are logged, not
    raised. A write is what subscribers' unsubscribes and the sender need, so a database that
    only answers reads is not healthy."""
    try:
        ping(app.engine)
    except SQLAlchemyError as exc:
        log.warning("health check: the database does not answer: %s", exc)
        return DatabaseHealth("error")
    try:
        with available_session(app.engine) as session:
            write_health_check(session, utcnow())
    except DatabaseUnavailableError as exc:
        log.warning("health check: %s", exc)
        return DatabaseHealth("not writable")
    return DatabaseHealth("ok")


__all__ = ["DatabaseHealth", "database_health"]
