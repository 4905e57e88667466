"""One-off special issues on a real database (SQLite, and PostgreSQL with
NEWSLETTER_TEST_POSTGRES_URL): created with their own window and title, built, approved and
sent like a weekly issue (once, by the scheduler's poll after the window), their title in the
subject and masthead, and the weekly numbering left as it was."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest

from newsletter.demo.server import FeedServer
from newsletter.domain.periods import special_label, special_period
from newsletter.errors import IssueError
from newsletter.service.app import App
from newsletter.service.archive import archive_html
from newsletter.service.editing import set_status
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.specials import create_special_issue, send_due_specials, special_issues
from newsletter.service.subscribers import add_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues
from tests.helpers import STORIES, serve_stories

EDITOR = "editor@news.example.com"


@pytest.fixture
def stories(make_app: Any, feed_server: FeedServer) -> tuple[App, datetime]:
    """Stored stories from the day before the latest due weekly send, two subscribers; returns
    the app and the due weekly period's end."""
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC), due=True)
    app: App = make_app(feeds=[serve_stories(feed_server, period.end)])
    assert ingest(app).new_items == len(STORIES)
    for email in ("a@example.com", "b@example.com"):
        add_subscriber(app, email)
    return app, period.end


def story_days(app: App, weekly_end: datetime) -> tuple[date, date]:
    """Local days that hold every stored story (see serve_stories)."""
    tz = app.config.newsletter.tz
    when = min(weekly_end - timedelta(days=1), datetime.now(UTC) - timedelta(hours=1))
    return (when - timedelta(hours=12)).astimezone(tz).date(), when.astimezone(tz).date()


def outbox_subjects(app: App) -> list[str]:
    folder = app.settings.resolved_outbox_dir
    return sorted(
        str(message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"])
        for p in folder.glob("*.eml")
    )


def test_a_special_issue_builds_approves_and_sends_once_with_its_title(
    stories: tuple[App, datetime],
) -> None:
    app, weekly_end = stories
    first, last = story_days(app, weekly_end)
    made = create_special_issue(app, "2026-asco", first, last, "ASCO  2026 ", EDITOR)
    assert (made.period, made.title, made.status) == ("special-2026-asco", "ASCO 2026", "draft")
    period = resolve_period(app, week="special-2026-asco")
    tz = app.config.newsletter.tz
    assert period.start == datetime.combine(first, datetime.min.time(), tz).astimezone(UTC)
    assert period.end == period.send_at == made.end
    assert made.days(tz) == (first, last)

    built = build_issue(app, period)
    content = built.content
    assert content.item_count == len(STORIES) and content.number is None
    assert content.special_title == "ASCO 2026"
    assert content.issue_label.startswith("ASCO 2026 · ")
    assert "ASCO 2026" in content.subject and "No." not in content.subject
    assert built.rendered is not None and content.issue_label in built.rendered.html
    with session_scope(app.engine) as session:
        logged = [(a.action, a.note, a.actor) for a in issues.actions(session, period.label)]
    assert logged == [("special", "ASCO 2026", EDITOR)]

    after_window = made.end + timedelta(minutes=1)
    assert send_due_specials(app, after_window) == []  # a draft waits for an editor
    set_status(app, period, "approved", actor=EDITOR)
    assert send_due_specials(app, made.end - timedelta(minutes=1)) == []  # window still open
    (report,) = send_due_specials(app, after_window)
    assert (report.period, report.status, report.sent) == ("special-2026-asco", "sent", 2)
    assert send_due_specials(app, after_window) == []  # once
    assert outbox_subjects(app) == [content.subject] * 2
    assert "ASCO 2026" in archive_html(app, "special-2026-asco")
    assert [(s.period, s.status) for s in special_issues(app)] == [("special-2026-asco", "sent")]


def test_the_weekly_numbers_ignore_special_issues(stories: tuple[App, datetime]) -> None:
    app, weekly_end = stories
    first, last = story_days(app, weekly_end)
    special = create_special_issue(app, "review", first, last, "The year in review", None)
    assert special.end <= weekly_end  # it ended before the next week's window starts
    report = send_issue(app, resolve_period(app, week="special-review"))
    assert report.status == "sent"
    next_week = resolve_period(app, now=weekly_end + timedelta(minutes=1))
    assert next_week.start == weekly_end
    assert build_issue(app, next_week, render=False).content.number == 1
    due = resolve_period(app, now=weekly_end, due=True)
    assert send_issue(app, due).status == "sent"
    assert build_issue(app, next_week, render=False).content.number == 2


@pytest.mark.parametrize(
    ("name", "first", "last", "title", "message"),
    [
        ("ASCO 2026!", date(2026, 6, 1), date(2026, 6, 5), "ASCO", "special issue name"),
        ("a-very-long-name", date(2026, 6, 1), date(2026, 6, 5), "ASCO", "at most 12"),
        ("asco", date(2026, 6, 5), date(2026, 6, 1), "ASCO", "before the first day"),
        ("asco", date(2026, 1, 1), date(2026, 6, 1), "ASCO", "at most 93 days"),
        ("asco", date(2026, 6, 1), date(2026, 6, 5), "  ", "title: enter a title"),
        ("asco", date(2026, 6, 1), date(2026, 6, 5), "=?utf-8?q?x?=", "title: must not"),
    ],
)
def test_bad_special_issues_are_refused(
    make_app: Any, name: str, first: date, last: date, title: str, message: str
) -> None:
    app = make_app()
    with pytest.raises(IssueError, match=message):
        create_special_issue(app, name, first, last, title, None)
    assert special_issues(app) == []


def test_a_name_is_used_once_and_an_unknown_special_is_an_error(make_app: Any) -> None:
    app = make_app()
    create_special_issue(app, "asco", date(2026, 6, 1), date(2026, 6, 5), "ASCO", None)
    with pytest.raises(IssueError, match="special-asco exists already"):
        create_special_issue(app, "special-asco", date(2026, 7, 1), date(2026, 7, 2), "X", None)
    with pytest.raises(IssueError, match="there is no special issue special-esmo"):
        resolve_period(app, week="special-esmo")


def test_special_labels_and_windows_are_pure() -> None:
    from zoneinfo import ZoneInfo

    assert special_label(" 2026-ASCO ") == special_label("special-2026-asco") == "special-2026-asco"
    for bad in ("", "-asco", "asco-", "as--co", "asco_2026", "a" * 13):
        with pytest.raises(IssueError):
            special_label(bad)
    tz = ZoneInfo("Asia/Shanghai")
    period = special_period("special-x", date(2026, 6, 1), date(2026, 6, 1), tz)
    assert period.start == datetime(2026, 5, 31, 16, 0, tzinfo=UTC)
    assert period.end == datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
