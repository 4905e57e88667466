"""APScheduler wiring: the poll, draft and weekly jobs of `newsletter.service.schedule`, stored
in the database, and an orderly stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from newsletter.service import schedule
from newsletter.service.app import App

log = logging.getLogger("newsletter.scheduler")


class StoppingExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler is untyped
    """APScheduler's thread pool, which starts no job once ``stop`` is set. Without it, a job
    due at the moment of a stop is handed to a pool that is shutting down, and APScheduler
    logs that as an error with a traceback ("cannot schedule new futures after shutdown")."""

    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self._stop = stop

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        # APScheduler's documented extension point for executors (BaseExecutor._do_submit_job).
        if self._stop.is_set():
            log.info("stopping: %s not started", job.name)
            return
        try:
            super()._do_submit_job(job, run_times)
        except RuntimeError:
            if not self._stop.is_set():
                raise
            log.info("stopping: %s not started", job.name)


def build_scheduler(
    app: App, config_path: Path, stop: threading.Event | None = None
) -> BackgroundScheduler:
    """A scheduler (not started) whose jobs live in the application's database; with ``stop``,
    no job starts once it is set."""
    nl = app.config.newsletter
    grace = int(app.settings.misfire_grace_hours * 3600)
    scheduler = BackgroundScheduler(
        jobstores={"default": schedule.job_store(app)},
        executors={"default": StoppingExecutor(stop or threading.Event())},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace},
        timezone=nl.tz,
    )
    kwargs = {"config_path": str(config_path.resolve())}
    weekly = CronTrigger(
        day_of_week=nl.schedule.day[:3],
        hour=nl.schedule.at.hour,
        minute=nl.schedule.at.minute,
        timezone=nl.tz,
    )
    scheduler.add_job(
        schedule.POLL_FUNC,
        IntervalTrigger(minutes=app.settings.poll_minutes, timezone=nl.tz),
        id=schedule.POLL_JOB,
        name=schedule.JOB_NAMES[schedule.POLL_JOB],
        kwargs=kwargs,
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
    # Always stored (a no-op without NEWSLETTER_BOUNCE_IMAP_HOST), so setting the mailbox
    # later needs no change to the stored jobs.
    scheduler.add_job(
        schedule.BOUNCES_FUNC,
        IntervalTrigger(minutes=app.settings.bounce_fetch_minutes, timezone=nl.tz),
        id=schedule.BOUNCES_JOB,
        name=schedule.JOB_NAMES[schedule.BOUNCES_JOB],
        kwargs=kwargs,
        replace_existing=True,
        next_run_time=datetime.now(UTC),
    )
    # Keep a stored weekly job's next run time (a missed send must still fire after a restart);
    # replace it only when the schedule in feeds.yaml changed.
    lead = timedelta(hours=nl.draft_hours_before)
    draft_at = datetime.combine(datetime(2026, 1, 5).date(), nl.schedule.at) - lead  # a Monday
    draft_day = (nl.schedule.weekday + (draft_at.date() - datetime(2026, 1, 5).date()).days) % 7
    scheduler.add_job(
        schedule.DRAFT_FUNC,
        CronTrigger(
            day_of_week=draft_day, hour=draft_at.hour, minute=draft_at.minute, timezone=nl.tz
        ),
        id=schedule.DRAFT_JOB,
        name=schedule.JOB_NAMES[schedule.DRAFT_JOB],
        kwargs=kwargs,
        replace_existing=True,
    )
    if not schedule.is_stored_job(app, schedule.WEEKLY_JOB, weekly, kwargs):
        scheduler.add_job(
            schedule.WEEKLY_FUNC,
            weekly,
            id=schedule.WEEKLY_JOB,
            name=schedule.JOB_NAMES[schedule.WEEKLY_JOB],
            kwargs=kwargs,
            replace_existing=True,
        )
    return scheduler


def run_scheduler(
    app: App, config_path: Path, stop: threading.Event, started: Callable[[], None] = lambda: None
) -> None:
    """Catch up, build the next draft, then run the jobs until ``stop`` is set.

    Each step checks ``stop`` before it begins. On stop the scheduler takes no new job and
    waits for the running ones (and their thread and process pools) to finish before this
    returns, so nothing runs while the interpreter shuts down."""
    path = config_path.resolve()
    if stop.is_set():
        return
    schedule.catch_up(path)
    if stop.is_set():
        return
    schedule.draft_job(str(path))  # the next issue's draft exists from the start
    if stop.is_set():
        return
    scheduler = build_scheduler(app, path, stop)
    # Started paused: a stop requested while the jobs were being stored hands out no job.
    scheduler.start(paused=True)
    try:
        if not stop.is_set():
            scheduler.resume()
            started()
            stop.wait()
    finally:
        # A scheduled poll running now ends early (no new request; what answered is stored);
        # the draft's and the weekly send's own polls are not cut short.
        schedule.POLLS_STOP.set()
        try:
            scheduler.shutdown(wait=True)
        finally:
            schedule.POLLS_STOP.clear()
