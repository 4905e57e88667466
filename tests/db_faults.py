"""Databases that cannot take a write, for tests on SQLite and PostgreSQL: another connection
holding the write lock, or the same database opened read-only (what a full disk looks like to
a writer: reads work, writes fail)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def writes_held(database_url: str) -> Iterator[None]:
    """Another connection holds the write lock: SQLite's one writer (BEGIN IMMEDIATE), or on
    PostgreSQL an EXCLUSIVE lock on the tables the web writes (reads still work, as they do
    while an import or a send writes)."""
    if database_url.startswith("sqlite"):
        conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(sa.text("LOCK TABLE subscriber, link, click, health_check IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


def read_only_engine(database_url: str) -> sa.Engine:
    """An engine on the same database that can read but not write: SQLite opened with
    ``mode=ro``, PostgreSQL with ``default_transaction_read_only`` (a standby's state)."""
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        return sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    return sa.create_engine(f"{database_url}%20-cdefault_transaction_read_only%3Don")
