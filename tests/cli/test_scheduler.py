"""The scheduler: the weekly job sends once per period, late after a restart, never twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from newsletter.cli.scheduler import build_scheduler
from newsletter.demo.server import FeedServer
from newsletter.domain.periods import latest_due_period
from newsletter.service.schedule import WEEKLY_JOB, weekly_job
from newsletter.service.subscribers import add_subscriber
from tests.helpers import serve_stories


@pytest.fixture
def scheduled(
    make_app: Any,
    feed_server: FeedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> tuple[Any, Path]:
    """An app whose stories fall in the latest due period; env set as `newsletter run` would see it."""
    probe = make_app()
    schedule, tz = probe.config.newsletter.schedule, probe.config.newsletter.tz
    period = latest_due_period(datetime.now(UTC), schedule.weekday, schedule.at, tz)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    for email in ("a@example.com", "b@example.com"):
        add_subscriber(app, email)
    env = {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_OUTBOX_DIR": str(tmp_path / "outbox"),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_SECRET_KEY": "test-secret",
        "NEWSLETTER_MISFIRE_GRACE_HOURS": str(24 * 8),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return app, tmp_path / "feeds.yaml"


def outbox(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "outbox").glob("*.eml"))


def test_weekly_job_sends_the_due_issue_once(scheduled: tuple[Any, Path], tmp_path: Path) -> None:
    _app, config = scheduled
    first = weekly_job(str(config))
    assert first is not None and first.status == "sent" and first.sent == 2
    second = weekly_job(str(config))
    assert second is not None and second.status == "already-sent"
    assert len(outbox(tmp_path)) == 2


def test_weekly_job_does_not_send_past_the_grace_time(
    scheduled: tuple[Any, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _app, config = scheduled
    monkeypatch.setenv("NEWSLETTER_MISFIRE_GRACE_HOURS", "0.001")
    app, _ = scheduled
    schedule, tz = app.config.newsletter.schedule, app.config.newsletter.tz
    due = latest_due_period(datetime.now(UTC), schedule.weekday, schedule.at, tz)
    assert weekly_job(str(config), now=due.send_at + timedelta(hours=1)) is None
    assert outbox(tmp_path) == []


def test_two_schedulers_racing_send_one_issue_once(
    scheduled: tuple[Any, Path], tmp_path: Path
) -> None:
    _app, config = scheduled
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(weekly_job(str(config)))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outbox(tmp_path)) == 2
    assert sum(r.sent for r in results if r is not None) == 2


def test_restart_after_send_time_fires_the_missed_run_once(
    scheduled: tuple[Any, Path], tmp_path: Path
) -> None:
    app, config = scheduled
    # First process: registers its jobs in the database, then stops before the send time.
    first = build_scheduler(app, config)
    first.start(paused=True)
    job = first.get_job(WEEKLY_JOB)
    assert job is not None and job.coalesce is True
    assert job.misfire_grace_time == int(app.settings.misfire_grace_hours * 3600) >= 3600
    first.shutdown(wait=True)
    # The machine was off across the send time: the stored next run is now in the past.
    store = SQLAlchemyJobStore(engine=app.engine, tablename="apscheduler_jobs")
    store.start(BackgroundScheduler(), "default")
    stored = store.lookup_job(WEEKLY_JOB)
    stored.next_run_time = datetime.now(UTC) - timedelta(minutes=30)
    store.update_job(stored)
    store.remove_job("poll-feeds")

    # Second process, started after the send time: the stored run fires once, late.
    done = threading.Event()
    events: list[JobExecutionEvent] = []

    def listener(event: JobExecutionEvent) -> None:
        if event.job_id == WEEKLY_JOB:
            events.append(event)
            done.set()

    second = build_scheduler(app, config)
    second.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    second.start()
    try:
        assert done.wait(60), "the missed weekly run did not fire"
    finally:
        second.shutdown(wait=True)
    assert len(events) == 1 and events[0].exception is None
    assert len(outbox(tmp_path)) == 2
    # A further run for the same period sends nothing.
    again = weekly_job(str(config))
    assert again is not None and again.status == "already-sent"
    assert len(outbox(tmp_path)) == 2


def test_draft_job_runs_ahead_of_the_send_time(scheduled: tuple[Any, Path]) -> None:
    app, config = scheduled
    scheduler = build_scheduler(app, config)
    scheduler.start(paused=True)
    try:
        draft = scheduler.get_job("draft-issue")
        weekly = scheduler.get_job(WEEKLY_JOB)
        assert draft is not None and weekly is not None
        lead = weekly.next_run_time - draft.next_run_time
        hours = app.config.newsletter.draft_hours_before
        assert lead == timedelta(hours=hours) or lead == timedelta(hours=hours - 24 * 7)
    finally:
        scheduler.shutdown(wait=False)


def test_jobs_stored_by_an_older_version_are_listed_kept_and_then_replaced(
    scheduled: tuple[Any, Path],
) -> None:
    """After an upgrade the stored jobs name functions that moved. `status` lists them and
    leaves them stored (APScheduler would delete a job it cannot load); the next `run`
    replaces them with jobs that load."""
    from newsletter.service.schedule import POLL_JOB, scheduled_runs

    app, config = scheduled
    first = build_scheduler(app, config)
    first.start(paused=True)
    first.shutdown(wait=True)
    table = sa.Table("apscheduler_jobs", sa.MetaData(), autoload_with=app.engine)
    moved = b"newsletter.service.schedule:"
    gone = b"newsletter.gone.schedulerxx:"  # the same length: the pickle stays well formed
    assert len(moved) == len(gone)
    with app.engine.begin() as conn:
        for job_id, state in conn.execute(sa.select(table.c.id, table.c.job_state)).all():
            assert moved in state
            conn.execute(
                table.update()
                .where(table.c.id == job_id)
                .values(job_state=state.replace(moved, gone))
            )
    before = scheduled_runs(app)
    assert {name for name, _ in before} == {
        "poll feeds",
        "read the bounce mailbox",
        "build the next issue's draft",
        "build and send the weekly issue",
    }
    assert scheduled_runs(app) == before  # nothing was deleted by looking

    second = build_scheduler(app, config)
    second.start(paused=True)
    try:
        assert second.get_job(WEEKLY_JOB) is not None
        assert second.get_job(POLL_JOB) is not None
    finally:
        second.shutdown(wait=True)
    with app.engine.connect() as conn:
        states = [s for (s,) in conn.execute(sa.select(table.c.job_state)).all()]
    assert len(states) == 4 and all(gone not in s for s in states)


def test_a_runaway_template_is_one_log_line_and_the_next_run_sends(
    scheduled: tuple[Any, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nested loops in an editor's template do not hang the weekly job: it stops at the time
    limit with one error line (no traceback), and once the template is fixed the next run
    sends the issue."""
    from tests.cli.test_error_lines import NESTED_LOOPS, _with_template_line

    _app, config = scheduled
    # Not shorter: the sections' templates are compiled within the render, which on a busy
    # machine took over 0.5 s before the loops were reached.
    monkeypatch.setenv("NEWSLETTER_TEMPLATE_TIME_LIMIT", "2")
    _with_template_line(config, tmp_path, NESTED_LOOPS)
    with caplog.at_level("ERROR", logger="newsletter"):
        assert weekly_job(str(config)) is None
    failures = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(failures) == 1 and failures[0].exc_info is None
    message = failures[0].getMessage()
    assert message.startswith("weekly issue failed: template sections/_item.html, line 2")
    assert "NEWSLETTER_TEMPLATE_TIME_LIMIT" in message
    assert outbox(tmp_path) == []
    partial = tmp_path / "templates" / "email" / "sections" / "_item.html"
    partial.write_text(partial.read_text(encoding="utf-8").replace(NESTED_LOOPS, ""), "utf-8")
    sent = weekly_job(str(config))
    assert sent is not None and sent.sent == 2
    assert len(outbox(tmp_path)) == 2


def test_a_scheduled_poll_while_run_is_stopping_requests_nothing_and_sends_nothing(
    scheduled: tuple[Any, Path], feed_server: FeedServer, tmp_path: Path
) -> None:
    """POLLS_STOP (set by run_scheduler on a stop until the scheduler has shut down): a poll
    job starts no request, leaves the feed due, and goes on to no send."""
    from newsletter.service import schedule
    from newsletter.service.catalog import feed_health

    app, config = scheduled
    schedule.POLLS_STOP.set()
    try:
        schedule.poll_job(str(config))
    finally:
        schedule.POLLS_STOP.clear()
    assert feed_server.requests == []
    assert [(row.status, row.last_error) for row in feed_health(app)] == [("never", None)]
    assert outbox(tmp_path) == []
    schedule.poll_job(str(config))  # once cleared, the next poll polls
    assert [row.status for row in feed_health(app)] == ["ok"]
