"""Liveness for load balancers and monitoring: can the database answer."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from newsletter.service.app import App

log = logging.getLogger(__name__)


def database_ok(app: App) -> bool:
    """Whether ``SELECT 1`` succeeds; the failure is logged, not raised."""
    try:
        with app.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        log.warning("health check: the database does not answer: %s", exc)
        return False
    return True


__all__ = ["database_ok"]
