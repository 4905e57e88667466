"""The scheduler's job table (APScheduler's SQLAlchemy job store in the application database)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

TABLE = "apscheduler_jobs"


def job_store(engine: Engine) -> SQLAlchemyJobStore:
    """A job store on ``engine`` (not started): the scheduler starts it."""
    return SQLAlchemyJobStore(engine=engine, tablename=TABLE)


def started_job_store(engine: Engine) -> SQLAlchemyJobStore:
    """A started job store, its table created first. Two processes starting at once both try
    to create it (SQLAlchemy's checkfirst is not atomic): the one that loses tries again and
    finds it. Shut it down after use."""
    for attempt in range(5):
        store = job_store(engine)
        try:
            store.start(None, "default")
            return store
        except SQLAlchemyError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def stored_job(engine: Engine, job_id: str) -> tuple[str, dict[str, str]] | None:
    """The stored job's trigger (as text) and keyword arguments, or None when there is none
    or it can no longer be loaded (its function moved in an upgrade: it is then replaced)."""
    store = started_job_store(engine)
    try:
        job = store.lookup_job(job_id)
    except (LookupError, ImportError, AttributeError, ValueError):
        return None
    finally:
        store.shutdown()
    return None if job is None else (str(job.trigger), dict(job.kwargs))


def scheduled_runs(engine: Engine) -> list[tuple[str, datetime | None]]:
    """Each stored job's id and next run time (empty before a first `newsletter run`).

    Read from the table without loading the jobs: APScheduler deletes a job it cannot load
    (one stored by an older version, whose function has moved), and a status query must not
    change what the scheduler will do."""
    table = sa.Table(TABLE, sa.MetaData(), autoload_with=engine) if _has_table(engine) else None
    if table is None:
        return []
    with engine.connect() as conn:
        when = table.c.next_run_time
        rows = conn.execute(sa.select(table.c.id, when).order_by(when.is_(None), when, table.c.id))
        return [
            (str(job_id), None if when is None else datetime.fromtimestamp(float(when), UTC))
            for job_id, when in rows
        ]


def _has_table(engine: Engine) -> bool:
    return sa.inspect(engine).has_table(TABLE)
