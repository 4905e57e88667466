"""Two scheduler processes against one database: one issue per period, one delivery per
subscriber, and one message per subscriber at the SMTP server (SQLite file and PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from newsletter.demo.server import FeedServer
from newsletter.domain.periods import Period, latest_due_period
from newsletter.service.app import App
from tests.helpers import add_subscribers, serve_stories
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not
TABLES = SQLModel.metadata.tables
SUBSCRIBERS = 300

# Both processes import everything first, then wait for the same go signal, so that they
# reach the send path together rather than one after the other.
WEEKLY = """
import json, sys, time
from pathlib import Path
from newsletter.service.schedule import weekly_job
config, ready, go = sys.argv[1:4]
Path(ready).touch()
deadline = time.monotonic() + 60
while not Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.002)
report = weekly_job(config)
print(json.dumps(None if report is None else {"status": report.status, "sent": report.sent}))
"""

MIGRATE = """
import sys, time
from pathlib import Path
from newsletter.storage import db
url, ready, go = sys.argv[1:4]
Path(ready).touch()
deadline = time.monotonic() + 60
while not Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.001)
engine = db.make_engine(url)
print(db.upgrade(engine)[1])
"""

REGISTER = """
import sys, time
from pathlib import Path
from newsletter.config import load_settings
from newsletter.cli.scheduler import build_scheduler
from newsletter.service.app import open_app

config, ready, go = sys.argv[1:4]
app = open_app(load_settings(), Path(config))
Path(ready).touch()
deadline = time.monotonic() + 60
while not Path(go).exists() and time.monotonic() < deadline:
    time.sleep(0.001)
scheduler = build_scheduler(app, Path(config))
scheduler.start(paused=True)
print(sorted(job.id for job in scheduler.get_jobs()))
scheduler.shutdown(wait=True)
"""


def start_together(
    tmp_path: Path, script: str, args: list[str], env: dict[str, str], count: int = 2
) -> list[subprocess.Popen[str]]:
    """``count`` processes running ``script`` (which touches argv ready and waits for argv go),
    released at the same moment once all of them are ready."""
    go = tmp_path / "go"
    go.unlink(missing_ok=True)
    readies = [tmp_path / f"ready{n}" for n in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, *args, str(ready), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready in readies):
        assert time.monotonic() < deadline, "the processes did not start"
        assert all(p.poll() is None for p in processes), "a process died at start"
        time.sleep(0.01)
    go.touch()
    return processes


def setup_list(
    make_app: Any, feed_server: FeedServer, tmp_path: Path, database_url: str, smtp: SmtpServer
) -> tuple[App, Period, dict[int, str], dict[str, str]]:
    """Stories in the due period (not ingested yet: each scheduler polls), subscribers, and
    the environment of a scheduler process sending over SMTP."""
    probe = make_app()
    nl = probe.config.newsletter
    period = latest_due_period(datetime.now(UTC), nl.schedule.weekday, nl.schedule.at, nl.tz)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    emails = add_subscribers(app, SUBSCRIBERS)
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_CONFIG": str(tmp_path / "feeds.yaml"),
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_SECRET_KEY": "test-secret",
        "NEWSLETTER_BASE_URL": "https://news.example.com",
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_MISFIRE_GRACE_HOURS": str(24 * 8),
        "NEWSLETTER_MAIL_TRANSPORT": "smtp",
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(smtp.port),
        "NEWSLETTER_SMTP_TLS": "none",
        "NEWSLETTER_SMTP_CONNECTIONS": "2",
        "NEWSLETTER_DELIVERY_BATCH": "20",
    }
    assert (tmp_path / "feeds.yaml").is_file()
    return app, period, emails, env


def assert_one_issue_one_message_each(
    app: App, period: Period, emails: dict[int, str], smtp: SmtpServer
) -> None:
    issue, delivery = TABLES["issue"].c, TABLES["delivery"].c
    with app.engine.connect() as conn:
        # One issue of the period (`run` also drafts the next one; that one is not sent).
        issues = conn.execute(sa.select(issue.id, issue.period, issue.status)).all()
        assert [r.status for r in issues if r.period == period.label] == ["sent"]
        assert all(r.status not in ("sending", "sent") for r in issues if r.period != period.label)
        issue_id = next(r.id for r in issues if r.period == period.label)
        rows = conn.execute(
            sa.select(
                delivery.subscriber_id, delivery.status, delivery.message_id, delivery.issue_id
            )
        ).all()
    assert {r.issue_id for r in rows} == {issue_id}
    per_subscriber = Counter(r.subscriber_id for r in rows)
    assert set(per_subscriber) == set(emails) and set(per_subscriber.values()) == {1}
    assert {r.status for r in rows} == {"sent"}
    received = Counter(r.rcpt_tos[0] for r in smtp.received)
    assert all(len(r.rcpt_tos) == 1 for r in smtp.received)
    assert set(received) == set(emails.values())
    twice = sorted(address for address, n in received.items() if n > 1)
    assert not twice, f"{len(twice)} subscribers got the issue more than once: {twice[:5]}"
    # The copy each one got is the one its delivery recorded.
    recorded = {emails[r.subscriber_id]: r.message_id for r in rows}
    for message in smtp.received:
        assert message.message()["Message-ID"] == recorded[message.rcpt_tos[0]]


def test_two_weekly_jobs_at_once_send_one_issue_once(
    make_app: Any,
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    tmp_path: Path,
    database_url: str,
) -> None:
    app, period, emails, env = setup_list(
        make_app, feed_server, tmp_path, database_url, smtp_server
    )
    reports = []
    for process in start_together(tmp_path, WEEKLY, [env["NEWSLETTER_CONFIG"]], env):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "Traceback" not in err, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    # Each process sent part of the issue (or found it sent); together exactly the list.
    assert all(r is not None for r in reports), reports
    assert sum(r["sent"] for r in reports) == SUBSCRIBERS, reports
    assert {r["status"] for r in reports} <= {"sent", "already-sent", "partial"}
    assert_one_issue_one_message_each(app, period, emails, smtp_server)


def test_two_run_processes_started_together_send_one_issue_once(
    make_app: Any,
    feed_server: FeedServer,
    smtp_server: SmtpServer,
    tmp_path: Path,
    database_url: str,
) -> None:
    app, period, emails, env = setup_list(
        make_app, feed_server, tmp_path, database_url, smtp_server
    )
    logs = [tmp_path / f"run{n}.log" for n in range(2)]
    processes = []
    for log in logs:
        with log.open("wb") as handle:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "newsletter", "run"],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
    issue = TABLES["issue"].c
    try:
        deadline = time.monotonic() + 90
        status = None
        while status != "sent":
            for process, log in zip(processes, logs, strict=True):
                assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, f"issue still {status}"
            time.sleep(0.2)
            with app.engine.connect() as conn:
                status = conn.execute(
                    sa.select(issue.status).where(issue.period == period.label)
                ).scalar()
        # Both have polled and caught up by now; a later poll must not send again.
        time.sleep(1.0)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    for process, log in zip(processes, logs, strict=True):
        output = log.read_text(errors="replace")
        assert process.returncode == 0, output
        assert "Traceback" not in output, output
    assert_one_issue_one_message_each(app, period, emails, smtp_server)


def test_two_processes_starting_on_a_fresh_database_both_migrate_it(
    tmp_path: Path, database_url: str
) -> None:
    """Two `newsletter run` (or worker) processes started together on an empty database both
    bring its schema up: neither dies because the other created a table first."""
    env = {**os.environ, "NEWSLETTER_DATABASE_URL": database_url}
    outcomes = []
    for process in start_together(tmp_path, MIGRATE, [database_url], env):
        _out, err = process.communicate(timeout=120)
        errors = [line[:300] for line in err.splitlines() if "Error:" in line]
        outcomes.append((process.returncode, errors[-1:]))
    assert [code for code, _ in outcomes] == [0, 0], outcomes


def test_two_schedulers_registering_their_jobs_at_once_both_start(
    make_app: Any, tmp_path: Path, database_url: str
) -> None:
    """The job table is made by whichever of two starting `newsletter run` processes comes
    first; the other one starts too, and both see the same four jobs."""
    make_app()  # the schema, without the scheduler's job table
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_SECRET_KEY": "test-secret",
    }
    outcomes = []
    for process in start_together(tmp_path, REGISTER, [str(tmp_path / "feeds.yaml")], env):
        out, err = process.communicate(timeout=120)
        # (APScheduler's own thread may log a job it could not submit during the shutdown.)
        errors = [
            line[:300]
            for line in err.splitlines()
            if "Error:" in line and "cannot schedule new futures after shutdown" not in line
        ]
        outcomes.append((process.returncode, out.strip(), errors[-1:]))
    jobs = "['draft-issue', 'poll-feeds', 'read-bounces', 'weekly-issue']"
    assert outcomes == [(0, jobs, []), (0, jobs, [])], outcomes


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The processes get their settings from the env built here, not the developer's shell."""
    for key in list(os.environ):
        if key.startswith("NEWSLETTER_") and key != "NEWSLETTER_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
