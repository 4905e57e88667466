"""The database engine (SQLite with WAL and a busy timeout, or PostgreSQL) and Alembic migrations."""

from __future__ import annotations

import fcntl
import logging
import re
import sqlite3
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError

from newsletter.errors import DatabaseError, DatabaseFullError, DatabaseUnavailableError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from sqlmodel import Session

# SQLModel and SQLAlchemy's ORM (with the table classes, about a quarter of the instructions
# `newsletter ingest` spent before its first request) are imported with the first session, not with this
# module: `newsletter ingest` reads and writes feed states on a Core connection
# (``connection_scope``) and opens a session only for feeds that changed.


def __getattr__(name: str) -> Any:
    """``Session`` (SQLModel's), imported on first use (see above)."""
    if name == "Session":
        from sqlmodel import Session

        return Session
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Alembic (0.3-0.7 s to import) is imported only when the schema is out of date or a command
# asks about migrations: an up-to-date database is checked with one SELECT.

# The service layer speaks to storage through these names, never to SQLAlchemy itself.
__all__ = [
    "Connection",
    "Engine",
    "IntegrityError",
    "SQLAlchemyError",
    "Session",
    "available_session",
    "connection_scope",
    "current_revision",
    "dialect_insert",
    "full_disk_error",
    "head_revision",
    "make_engine",
    "outage_as_error",
    "ping",
    "session_scope",
    "upgrade",
]

log = logging.getLogger("newsletter.db")  # the name operators' log filters know
MIGRATIONS = Path(__file__).parent / "migrations"


LOCK_WAIT_SECONDS = 10.0  # SQLite's busy timeout; PostgreSQL's lock_timeout in available_session
_lock_waits: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, lock_wait: float) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={int(lock_wait * 1000)}")
    # Switching a new database to WAL needs it to itself, and SQLite does not wait for that:
    # when another process is creating the schema at that moment, try again shortly.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str, lock_wait: float = LOCK_WAIT_SECONDS) -> Engine:
    """An engine for the URL; SQLite files get their folder created, WAL and a busy timeout of
    ``lock_wait`` seconds (on PostgreSQL the same wait bounds lock waits in available_session)."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise DatabaseError(f"NEWSLETTER_DATABASE_URL is not a database URL: {url!r}") from exc
    if parsed.drivername in ("postgres", "postgresql"):
        # The scheme most tools write (Heroku, libpq, docker images); the driver installed
        # with the package is psycopg 3, which SQLAlchemy names postgresql+psycopg.
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = parsed.render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Up to 64 sender threads each hold a connection for reads and take one more at times.
        engine = sa.create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=5,
            max_overflow=135,
        )
        sa.event.listen(
            engine,
            "connect",
            lambda conn, record: _sqlite_pragmas(conn, record, lock_wait),
        )
        _lock_waits[engine] = lock_wait
        return engine
    try:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=135)
    except (ImportError, SQLAlchemyError) as exc:
        raise DatabaseError(f"cannot use database URL {parsed!r}: {exc}") from exc
    _lock_waits[engine] = lock_wait
    return engine


def dialect_insert(session: Session | Connection, table: Any) -> Any:
    """A dialect INSERT that supports ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    bind = session if isinstance(session, Connection) else session.get_bind()
    name = bind.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql  # imported by the engine that needs it

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def ping(engine: Engine) -> None:
    """Run ``SELECT 1``; SQLAlchemyError when the database does not answer."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def _alembic_config(engine: Engine) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*['\"]([^'\"]+)['\"]", re.M)


@lru_cache(maxsize=1)
def _head_from_files() -> str | None:
    """The one revision no migration file names as its down_revision, read from the files'
    ``revision = "..."`` lines without importing Alembic (None: not exactly one, or a file
    says it in a way this does not read; Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            return None
        revisions.add(found["revision"])
        if "down_revision" in found:
            parents.add(found["down_revision"])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def head_revision() -> str:
    """The newest migration revision shipped with this version."""
    head = _head_from_files()
    if head is not None:
        return head
    return _alembic_head()


def _alembic_head() -> str:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(sa.create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty database): read from Alembic's
    ``alembic_version`` table with one query."""
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    except OperationalError as exc:
        raise DatabaseError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc
    if len(rows) > 1:
        raise DatabaseError(
            f"the database {engine.url!r} is at several revisions at once "
            f"({', '.join(sorted(r[0] for r in rows))}); run `newsletter db current`"
        )
    return str(rows[0][0]) if rows else None


MIGRATION_LOCK = 7_262_873_301  # an arbitrary PostgreSQL advisory lock key


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One process migrates at a time (two services starting together on a new database):
    an advisory lock on PostgreSQL, a lock file beside a SQLite database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Apply pending migrations; returns (revision before, revision after). Idempotent, and
    safe when several processes start at once: they take turns, and the later ones find the
    schema up to date."""
    before = current_revision(engine)
    head = head_revision()
    if before == head:
        return before, head
    with _migration_lock(engine):
        now = current_revision(engine)
        if now != head:
            log.info("migrating database from %s to %s", now or "empty", head)
            from alembic import command

            try:
                command.upgrade(_alembic_config(engine), "head")
            except SQLAlchemyError as exc:
                raise DatabaseError(f"database migration to {head} failed: {exc}") from exc
    return before, head


def _unavailable_reason(exc: SQLAlchemyError) -> str:
    """The database's own words for why it cannot take a request, on one line."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    return " ".join(text.split())[:300]


@contextmanager
def available_session(engine: Engine) -> Iterator[Session]:
    """A session_scope for requests that must answer soon and never with a trace (the web app):
    a database that cannot take the request now (SQLite locked past its busy timeout, a full
    disk, a read-only file or server, a lost connection: OperationalError, or InternalError for
    PostgreSQL's read-only transaction) raises DatabaseUnavailableError, after the rollback.
    On PostgreSQL, lock waits are bounded like SQLite's busy timeout (``SET LOCAL
    lock_timeout``), so a row held by another writer is a 503, not a hung request."""
    try:
        with session_scope(engine) as session:
            if engine.dialect.name == "postgresql":
                wait_ms = int(_lock_waits.get(engine, LOCK_WAIT_SECONDS) * 1000)
                session.execute(sa.text(f"SET LOCAL lock_timeout = {wait_ms}"))
            yield session
    except (OperationalError, sa.exc.InternalError) as exc:
        raise DatabaseUnavailableError(
            f"the database cannot take this request now: {_unavailable_reason(exc)}"
        ) from exc


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error. A write refused because the
    disk is full is DatabaseFullError (the one place that tells it apart)."""
    from sqlmodel import Session

    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException as exc:
            session.rollback()
            full = full_disk_error(engine, exc)
            if full is not None:
                raise full from exc
            raise


@contextmanager
def connection_scope(engine: Engine) -> Iterator[Connection]:
    """``session_scope`` for SQLAlchemy Core statements, without the ORM: a connection whose
    transaction commits on success and rolls back on error (a full disk is
    DatabaseFullError)."""
    try:
        with engine.begin() as conn:
            yield conn
    except BaseException as exc:
        full = full_disk_error(engine, exc)
        if full is not None:
            raise full from exc
        raise


SQLITE_FULL = "database or disk is full"  # SQLITE_FULL's message (ENOSPC, max_page_count)
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


def full_disk_error(engine: Engine, exc: BaseException) -> DatabaseFullError | None:
    """DatabaseFullError for a write the database refused because its disk is full (SQLite's
    SQLITE_FULL, PostgreSQL's disk_full), naming where to free space; None for anything else."""
    if not isinstance(exc, OperationalError):
        return None
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == POSTGRES_DISK_FULL:
        where = f"the PostgreSQL database on {engine.url.host or 'localhost'}"
    elif isinstance(orig, sqlite3.OperationalError) and SQLITE_FULL in str(orig):
        database = engine.url.database or "the SQLite database"
        where = f"the database {Path(database).resolve() if database != ':memory:' else database}"
    else:
        return None
    return DatabaseFullError(
        f"the disk holding {where} is full ({_unavailable_reason(exc)}); free space and run "
        "the command again"
    )


@contextmanager
def outage_as_error(what: str) -> Iterator[None]:
    """Turn a lost or refused database connection (or a lock held past the busy timeout) into
    DatabaseUnavailableError, which the sending loops retry with backoff."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        detail = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
        raise DatabaseUnavailableError(
            f"the database did not answer while {what}: {detail[0] if detail else exc}"
        ) from exc
