"""APScheduler wiring only: feed polling every N minutes and the weekly build-and-send."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from newsletter.config import load_settings
from newsletter.domain.periods import Period, latest_due_period, period_containing
from newsletter.errors import NewsletterError
from newsletter.service.app import App, open_app
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue
from newsletter.service.sending import SendReport, resume_due, send_issue
from newsletter.storage import store
from newsletter.storage.db import session_scope

log = logging.getLogger(__name__)
POLL_JOB = "poll-feeds"
WEEKLY_JOB = "weekly-issue"
DRAFT_JOB = "draft-issue"


def _app(config_path: str) -> App:
    return open_app(load_settings(), Path(config_path))


def poll_job(config_path: str) -> None:
    """Scheduled: poll every feed, then resume unfinished sends; failures are logged, not raised."""
    try:
        app = _app(config_path)
        report = ingest(app)
        log.info("poll: %d new items, %d feeds failed", report.new_items, len(report.failed))
        # Deliveries deferred by a 4xx reply or an SMTP outage go out on the next poll, and an
        # issue approved after its send time goes out within the grace time.
        for sent in resume_due(app):
            log.info("issue %s: resumed, %d sent, status %s", sent.period, sent.sent, sent.status)
        send_due(app, datetime.now(UTC))
    except NewsletterError as exc:
        log.error("poll failed: %s", exc)


def weekly_job(config_path: str, now: datetime | None = None) -> SendReport | None:
    """Scheduled: build and send the latest due issue, once, if still within the grace time."""
    try:
        app = _app(config_path)
        now = now or datetime.now(UTC)
        if _due_period(app, now) is None:
            return None
        ingest(app, now=now)
        return send_due(app, now)
    except NewsletterError as exc:
        log.error("weekly issue failed: %s", exc)
        return None


def _due_period(app: App, now: datetime) -> Period | None:
    schedule, tz = app.config.newsletter.schedule, app.config.newsletter.tz
    period = latest_due_period(now, schedule.weekday, schedule.at, tz)
    grace = timedelta(hours=app.settings.misfire_grace_hours)
    if now - period.send_at > grace:
        log.info(
            "issue %s was due at %s, more than %s ago; not sending it late",
            period.label,
            period.send_at,
            grace,
        )
        return None
    return period


def send_due(app: App, now: datetime) -> SendReport | None:
    """Send the due issue if it may go: approved, or a draft with auto_approve; never held."""
    period = _due_period(app, now)
    if period is None:
        return None
    with session_scope(app.engine) as session:
        issue = store.get_issue(session, period.label)
        status = issue.status if issue else "draft"
    if status == "sent":
        # Every poll within the grace time asks again; the answer is not news.
        log.debug("issue %s was sent already", period.label)
        return SendReport(period.label, "already-sent", reason="this issue was sent before")
    if status == "held":
        log.warning("issue %s is on hold; not sending it (approve it to send)", period.label)
        return None
    if status in ("draft", "skipped") and not app.config.newsletter.auto_approve:
        log.warning(
            "issue %s waits for approval (`newsletter issue approve --week %s`)",
            period.label,
            period.label,
        )
        return None
    report = send_issue(app, period)
    log.info(
        "issue %s: %s, %d sent%s",
        period.label,
        report.status,
        report.sent,
        f" ({report.reason})" if report.reason else "",
    )
    return report


def draft_job(config_path: str) -> None:
    """Scheduled ahead of the send time: build the next issue's draft for the editors."""
    try:
        app = _app(config_path)
        schedule, tz = app.config.newsletter.schedule, app.config.newsletter.tz
        period = period_containing(datetime.now(UTC), schedule.weekday, schedule.at, tz)
        ingest(app)
        built = build_issue(app, period)
        log.info(
            "draft of %s built: %d items, status %s",
            period.label,
            built.content.item_count,
            built.status,
        )
    except NewsletterError as exc:
        log.error("draft build failed: %s", exc)


def _jobstore(app: App) -> SQLAlchemyJobStore:
    """The job store, its table created first. Two processes starting at once both try to
    create it (SQLAlchemy's checkfirst is not atomic): the one that loses tries again and
    finds it."""
    for attempt in range(5):
        store = SQLAlchemyJobStore(engine=app.engine, tablename="apscheduler_jobs")
        try:
            store.start(None, "default")
            return store
        except SQLAlchemyError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def build_scheduler(app: App, config_path: Path, blocking: bool = True) -> BaseScheduler:
    """A scheduler whose jobs live in the application's database."""
    _jobstore(app).shutdown()  # the table exists before two schedulers race to create it
    nl = app.config.newsletter
    grace = int(app.settings.misfire_grace_hours * 3600)
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler: BaseScheduler = cls(
        jobstores={"default": SQLAlchemyJobStore(engine=app.engine, tablename="apscheduler_jobs")},
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
        "newsletter.cli.scheduler:poll_job",
        IntervalTrigger(minutes=app.settings.poll_minutes, timezone=nl.tz),
        id=POLL_JOB,
        name="poll feeds",
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
        "newsletter.cli.scheduler:draft_job",
        CronTrigger(
            day_of_week=draft_day, hour=draft_at.hour, minute=draft_at.minute, timezone=nl.tz
        ),
        id=DRAFT_JOB,
        name="build the next issue's draft",
        kwargs=kwargs,
        replace_existing=True,
    )
    if not _same_weekly(app, weekly, kwargs):
        scheduler.add_job(
            "newsletter.cli.scheduler:weekly_job",
            weekly,
            id=WEEKLY_JOB,
            name="build and send the weekly issue",
            kwargs=kwargs,
            replace_existing=True,
        )
    return scheduler


def _same_weekly(app: App, trigger: CronTrigger, kwargs: dict[str, str]) -> bool:
    store = _jobstore(app)
    try:
        job = store.lookup_job(WEEKLY_JOB)
    finally:
        store.shutdown()
    return job is not None and str(job.trigger) == str(trigger) and dict(job.kwargs) == kwargs


def catch_up(config_path: Path, now: datetime | None = None) -> SendReport | None:
    """At start-up: send the latest due issue if it is unsent and within the grace time."""
    return weekly_job(str(config_path.resolve()), now=now)


def scheduled_runs(app: App) -> list[tuple[str, datetime | None]]:
    """The jobs stored by `newsletter run` and when each runs next (empty before a first run)."""
    jobstore = _jobstore(app)
    try:
        return [(job.name, job.next_run_time) for job in jobstore.get_all_jobs()]
    finally:
        jobstore.shutdown()
