"""Liveness for load balancers and monitoring: can the database answer."""

from __future__ import annotations

import logging

from newsletter.service.app import App
from newsletter.storage.db import SQLAlchemyError, ping

log = logging.getLogger(__name__)


def database_ok(app: App) -> bool:
    """Whether ``SELECT 1`` succeeds; the failure is logged, not raised."""
    try:
        ping(app.engine)
    except SQLAlchemyError as exc:
        log.warning("health check: the database does not answer: %s", exc)
        return False
    return True


__all__ = ["database_ok"]
