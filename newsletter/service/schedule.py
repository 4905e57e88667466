"""The scheduled jobs and the send policy: poll, build the draft, send the due issue once.

The APScheduler wiring that calls these jobs is in `newsletter.cli.scheduler`; the jobs are
referenced there by name (``newsletter.service.schedule:poll_job``) and stored in the database.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from newsletter.config import load_settings
from newsletter.domain.periods import Period, latest_due_period, period_containing
from newsletter.domain.statuses import IssueStatus
from newsletter.errors import NewsletterError
from newsletter.service import bounces
from newsletter.service.app import App, open_app
from newsletter.service.ingest import ingest
from newsletter.service.ingest_workers import poll_due_feeds
from newsletter.service.issues import build_issue
from newsletter.service.metrics import observe_ingest
from newsletter.service.sending import SendReport, resume_due, send_issue
from newsletter.service.specials import send_due_specials
from newsletter.storage import jobs
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues

log = logging.getLogger("newsletter.scheduler")  # the name operators' log filters know

POLL_JOB = "poll-feeds"
WEEKLY_JOB = "weekly-issue"
DRAFT_JOB = "draft-issue"
BOUNCES_JOB = "read-bounces"
POLL_FUNC = f"{__name__}:poll_job"
BOUNCES_FUNC = f"{__name__}:bounces_job"
DRAFT_FUNC = f"{__name__}:draft_job"
WEEKLY_FUNC = f"{__name__}:weekly_job"


def _app(config_path: str) -> App:
    return open_app(load_settings(), Path(config_path))


# Set while the process that runs the jobs (`newsletter run`) is stopping: a scheduled poll
# running then starts no new request, stores what answered and gives the other feeds back
# (still due), and the job goes no further. The jobs are stored in the database by name with
# their configuration path only, so a process-wide event is how the stop reaches them;
# run_scheduler clears it once the scheduler has shut down, so later polls in the process run.
POLLS_STOP = threading.Event()


def poll_job(config_path: str) -> None:
    """Scheduled: poll the feeds that are due, then resume unfinished sends; failures are
    logged, not raised. Stopped early by POLLS_STOP (the sends are then left to the next run)."""
    try:
        app = _app(config_path)
        started = time.monotonic()
        # the due feeds only (adaptive polling), claimed
        report = poll_due_feeds(app, POLLS_STOP)
        seconds = time.monotonic() - started
        observe_ingest(seconds, report.polled)
        log.info(
            "poll: %d feeds due, %d new items, %d feeds failed, %.1f s",
            report.polled,
            report.new_items,
            report.failed,
            seconds,
        )
        if POLLS_STOP.is_set():
            log.info("poll: stopping; the feeds not polled are polled by the next run")
            return
        # Deliveries deferred by a 4xx reply or an SMTP outage go out on the next poll, and an
        # issue approved after its send time goes out within the grace time.
        for sent in resume_due(app):
            log.info("issue %s: resumed, %d sent, status %s", sent.period, sent.sent, sent.status)
        send_due(app, datetime.now(UTC))
        send_due_specials(app, datetime.now(UTC))  # approved special issues whose window ended
    except NewsletterError as exc:
        log.error("poll failed: %s", exc)


def bounces_job(config_path: str) -> None:
    """Scheduled every NEWSLETTER_BOUNCE_FETCH_MINUTES: read the bounce mailbox (DSNs,
    complaints, ``mailto:`` unsubscribes) when one is configured; never raises."""
    try:
        app = _app(config_path)
    except NewsletterError as exc:
        log.error("bounce mailbox: %s", exc)
        return
    read_bounces(app)


class MailboxHealth:
    """Whether each bounce mailbox answered at its last read, in this process: a failure is
    logged when it starts (or says something new), the recovery once; the same failure again
    at every interval is not news."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failing: dict[str, str] = {}

    def failed(self, where: str, error: str, *, trace: bool = False) -> None:
        """Note a failed read; ``trace``: an unexpected error, logged with its traceback."""
        with self._lock:
            said = self._failing.get(where) == error
            self._failing[where] = error
        if said:
            log.debug("bounce mailbox still failing: %s", error)
        else:
            log.error("bounce mailbox: %s (tried again every interval)", error, exc_info=trace)

    def answered(self, where: str) -> None:
        with self._lock:
            was = self._failing.pop(where, None)
        if was is not None:
            log.warning("bounce mailbox %s answers again", where)


MAILBOX_HEALTH = MailboxHealth()


def read_bounces(app: App, health: MailboxHealth = MAILBOX_HEALTH) -> None:
    """Read the bounce mailbox when one is configured. A failure is logged once per change
    (see MailboxHealth), never raised: the next interval tries again."""
    if not bounces.has_mailbox(app):
        return
    s = app.settings
    where = f"{s.bounce_imap_user}@{s.bounce_imap_host}:{s.resolved_bounce_imap_port}"
    try:
        report = bounces.fetch_mailbox(app)
    except NewsletterError as exc:
        health.failed(where, str(exc))
        return
    except Exception as exc:  # a bug must not stop the scheduler: said once, with its trace
        health.failed(where, f"{type(exc).__name__}: {exc}", trace=True)
        return
    health.answered(where)
    if report.read:
        log.info(
            "bounce mailbox: %d message(s), %d event(s) recorded, %d address(es) suppressed",
            report.read,
            report.recorded.recorded,
            len(report.recorded.suppressed),
        )


def weekly_job(config_path: str, now: datetime | None = None) -> SendReport | None:
    """Scheduled: build and send the latest due issue, once, if still within the grace time."""
    try:
        app = _app(config_path)
        now = now or datetime.now(UTC)
        if _due_period(app, now) is None:
            return None
        # Every feed, not only the due ones: the issue is built from what is stored once this
        # returns, and a feed an ingest worker holds now would be missing from it.
        ingest(app, now=now)
        return send_due(app, now)
    except NewsletterError as exc:
        log.error("weekly issue failed: %s", exc)
        return None


def draft_job(config_path: str) -> None:
    """Scheduled ahead of the send time: build the next issue's draft for the editors."""
    try:
        app = _app(config_path)
        schedule, tz = app.config.newsletter.schedule, app.config.newsletter.tz
        period = period_containing(datetime.now(UTC), schedule.weekday, schedule.at, tz)
        ingest(app)  # every feed, as for the weekly send
        built = build_issue(app, period)
        log.info(
            "draft of %s built: %d items, status %s",
            period.label,
            built.content.item_count,
            built.status,
        )
    except NewsletterError as exc:
        log.error("draft build failed: %s", exc)


def catch_up(config_path: Path, now: datetime | None = None) -> SendReport | None:
    """At start-up: send the latest due issue if it is unsent and within the grace time."""
    return weekly_job(str(config_path.resolve()), now=now)


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
        issue = issues.get_issue(session, period.label)
        status = issue.status if issue else IssueStatus.DRAFT
    if status == IssueStatus.SENT:
        # Every poll within the grace time asks again; the answer is not news.
        log.debug("issue %s was sent already", period.label)
        return SendReport(period.label, "already-sent", reason="this issue was sent before")
    if status == IssueStatus.HELD:
        log.warning("issue %s is on hold; not sending it (approve it to send)", period.label)
        return None
    if (
        status in (IssueStatus.DRAFT, IssueStatus.SKIPPED)
        and not app.config.newsletter.auto_approve
    ):
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


def job_store(app: App) -> Any:
    """The scheduler's job store in the application database (its table created first)."""
    jobs.started_job_store(app.engine).shutdown()  # before two schedulers race to create it
    return jobs.job_store(app.engine)


def is_stored_job(app: App, job_id: str, trigger: object, kwargs: dict[str, str]) -> bool:
    """Whether the stored job has this trigger and these arguments (and still loads)."""
    stored = jobs.stored_job(app.engine, job_id)
    return stored is not None and stored == (str(trigger), kwargs)


JOB_NAMES = {
    POLL_JOB: "poll feeds",
    BOUNCES_JOB: "read the bounce mailbox",
    DRAFT_JOB: "build the next issue's draft",
    WEEKLY_JOB: "build and send the weekly issue",
}


def scheduled_runs(app: App) -> list[tuple[str, datetime | None]]:
    """The jobs stored by `newsletter run` and when each runs next (empty before a first run),
    in the newsletter's timezone."""
    tz = app.config.newsletter.tz
    return [
        (JOB_NAMES.get(job_id, job_id), when.astimezone(tz) if when else None)
        for job_id, when in jobs.scheduled_runs(app.engine)
    ]
