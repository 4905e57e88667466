"""Databases that cannot take a write, for tests on SQLite and PostgreSQL: another connection
holding the write lock, or the same database opened read-only (what a full disk looks like to
a writer: reads work, writes fail)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def disk_full(engine: sa.Engine, *, pages: int = 0, items: int = 0) -> Iterator[None]:
    """Writes refused by the database itself as on a full disk, on ``engine``'s connections.

    SQLite: ``PRAGMA max_page_count`` allows ``pages`` pages beyond the current size, then
    SQLite answers SQLITE_FULL, "database or disk is full" (what ENOSPC gives; a real full
    disk is tested in tests/system/test_ingest_disk_full.py). PostgreSQL: a trigger raises
    SQLSTATE 53100 (disk_full) through the real driver once the item table holds ``items``
    rows (a server whose disk fills cannot be made in a test)."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            limit = int(conn.execute(sa.text("PRAGMA page_count")).scalar_one()) + pages

        def limited(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute(f"PRAGMA max_page_count={limit}")

        engine.dispose()  # every connection from now on gets the limit
        sa.event.listen(engine, "connect", limited)
        try:
            yield
        finally:
            sa.event.remove(engine, "connect", limited)
            engine.dispose()
        return
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE FUNCTION refuse_as_full() RETURNS trigger AS $$ BEGIN "
                f"IF (SELECT count(*) FROM item) >= {int(items)} THEN RAISE EXCEPTION "
                "'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
        )
        conn.execute(
            sa.text(
                "CREATE TRIGGER disk_full BEFORE INSERT ON item "
                "FOR EACH ROW EXECUTE FUNCTION refuse_as_full()"
            )
        )
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER disk_full ON item"))
            conn.execute(sa.text("DROP FUNCTION refuse_as_full()"))
