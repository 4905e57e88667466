"""Debian's Chromium (Playwright) on a real `newsletter serve` over 127.0.0.1: an admin signs
in, searches a subscriber and opens their page, exports the CSV, imports a Mailchimp export
through the column mapping and finds the names, and opens the statistics (a chart, clicks by
story title) of a sent issue; every page at 1280 px and 375 px, nothing overflowing.

Screenshots go to the test's folder, and to NEWSLETTER_SCREENSHOTS_DIR when it is set."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from newsletter.config import Settings
from newsletter.demo.server import FeedServer
from newsletter.email.transports import FileTransport
from newsletter.service.accounts import add_account
from newsletter.service.app import App, open_app
from newsletter.service.clicks import ClickCounter, follow_link
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import send_issue
from newsletter.storage.db import session_scope
from newsletter.storage.models import Delivery, Link, Subscriber
from newsletter.storage.queries.links import ClickRecord, record_clicks
from tests.browsing import chromium, fits, require_chromium, screenshot, serve
from tests.conftest import write_config
from tests.helpers import STORIES, serve_stories
from tests.smtp_server import free_port
from tests.web_helpers import add_issue, add_link, add_row

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not
require_chromium()

ADMIN = "admin@news.example.com"
PASSWORD = "browser test password"
MAILCHIMP = Path(__file__).resolve().parents[1] / "data" / "audience" / "mailchimp_subscribed.csv"
SECRET = "audience-browser-secret"


def _sent_issue(folder: Path, database: str, base_url: str) -> tuple[App, Path, str]:
    """The test stories sent to three readers; two of them click stories (named clicks)."""
    settings = Settings(
        data_dir=folder / "data",
        database_url=database,
        base_url=base_url,
        secret_key=SECRET,
        allow_private_addresses=True,
        parse_workers=1,
        fetch_timeout=5.0,
        click_track_subscribers=True,
    )
    with FeedServer() as feeds:
        probe = open_app(settings, write_config(folder, []))
        period = resolve_period(probe, now=datetime.now(UTC), due=True)
        probe.engine.dispose()
        config = write_config(folder, [serve_stories(feeds, period.end)])
        app = open_app(settings, config)
        assert ingest(app).new_items == len(STORIES)
    now = datetime.now(UTC)
    add_row(
        app,
        "carmen.vidal@example.org",
        "active",
        name="Carmen Vidal",
        source="web",
        consent_at=now - timedelta(days=40),
        consent_ip="203.0.113.44",
        consent_user_agent="Mozilla/5.0 (X11; Linux x86_64)",
        confirmed_at=now - timedelta(days=40),
        confirm_ip="203.0.113.44",
    )
    add_row(app, "dev@example.org", "active", name="Dev Patel")
    add_row(app, "left@example.org", "unsubscribed", name="Left Reader")
    assert send_issue(app, period, FileTransport(folder / "sent")).sent == 2
    with session_scope(app.engine) as session:
        links = {link.url: link.token for link in session.exec(select(Link)).all()}
        readers = [s.token for s in session.exec(select(Subscriber)).all() if s.status == "active"]
    counter = ClickCounter(app.engine)
    for url, reader in (
        ("https://example.com/s1", 0),
        ("https://example.com/s1", 1),
        ("https://example.com/s0", 1),
        (f"{base_url}/archive/{period.label}", 0),
    ):
        target = follow_link(app, links[url], readers[reader])
        assert target.click is not None
        counter.add(target.click)
    assert counter.flush()
    _earlier_issues(app, period.start)
    add_account(app, ADMIN, "admin", PASSWORD)
    return app, config, period.label


def _earlier_issues(app: App, before: datetime) -> None:
    """Three earlier sent issues, with clicks named by reader, for the chart's trend."""
    with session_scope(app.engine) as session:
        readers = [s.id for s in session.exec(select(Subscriber)).all() if s.status == "active"]
    for weeks, clickers in ((3, 1), (2, 2), (1, 1)):
        sent_at = before - timedelta(weeks=weeks)
        label = f"{sent_at.isocalendar()[0]}-W{sent_at.isocalendar()[1]:02d}"
        story = {
            "id": 900 + weeks,
            "title": f"Earlier story {weeks}",
            "url": f"https://example.com/e{weeks}",
        }
        issue = add_issue(
            app,
            label,
            sent_at=sent_at,
            content={"item_count": 1, "sections": [{"id": "headlines", "items": [story]}]},
        )
        assert issue.id is not None
        link = add_link(app, issue.id, story["url"])
        assert link.id is not None
        with session_scope(app.engine) as session:
            for reader in readers:
                session.add(
                    Delivery(
                        issue_id=issue.id, subscriber_id=reader, status="sent", sent_at=sent_at
                    )
                )
            record_clicks(
                session,
                [ClickRecord(link.id, issue.id, reader, sent_at) for reader in readers[:clickers]],
            )


def test_subscribers_import_export_and_statistics(tmp_path: Path, database_url: str) -> None:
    """On SQLite, and on PostgreSQL too with NEWSLETTER_TEST_POSTGRES_URL set."""
    port = free_port()  # the issue's links name the server, so its address comes first
    app, config, period = _sent_issue(tmp_path, database_url, f"http://127.0.0.1:{port}")
    env = {
        **os.environ,
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_MAIL_TRANSPORT": "file",
    }
    with serve(env, tmp_path, port=port) as server, chromium() as browser:
        _drive(browser, server.base_url, period, tmp_path)
    with session_scope(app.engine) as session:
        names = {s.email: s.name for s in session.exec(select(Subscriber)).all()}
    app.engine.dispose()
    assert names["ana.ruiz@example.com"] == "Ana Ruiz" and names["wang.fang@example.cn"] == "王芳"


def _drive(browser: Any, base_url: str, period: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{base_url}/admin/subscribers")  # no session: the sign-in form, then back here
    page.get_by_label("Email address").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:has-text('Subscribers')")

    # Search by name, open the subscriber's page.
    page.get_by_label("Address or name contains").fill("vidal")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("text=1 match.")
    page.get_by_role("link", name="carmen.vidal@example.org").click()
    page.wait_for_selector("h1:has-text('carmen.vidal@example.org')")
    evidence = page.locator("dl.facts").nth(1).inner_text()
    assert "203.0.113.44" in evidence and "via web" in evidence
    fits(page, "a subscriber's page at 1280 px")
    screenshot(page, shots, "audience-subscriber-1280")

    # Export every subscriber as CSV.
    page.get_by_role("link", name="← Subscribers").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Export all as CSV").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["email"] for r in rows} >= {"carmen.vidal@example.org", "left@example.org"}

    # Import a Mailchimp export: the detected columns, the mapping, then the names.
    page.get_by_role("link", name="Import a CSV").click()
    page.get_by_label("CSV file").set_input_files(str(MAILCHIMP))
    page.get_by_role("button", name="Upload and check the columns").click()
    page.wait_for_selector("text=Mailchimp export")
    assert page.get_by_label("Email column").input_value() == "1"
    assert not page.get_by_label("Update existing names").is_checked()
    page.get_by_label("Email column").select_option(label="1. Email Address")
    page.get_by_label("Name column").select_option(index=0)  # first and last name, recognised
    fits(page, "the import mapping at 1280 px")
    screenshot(page, shots, "audience-import-mapping-1280")
    page.get_by_role("button", name="Import 4 rows").click()
    page.wait_for_selector("text=Mailchimp export: 3 added")
    page.get_by_role("link", name="See the active subscribers").click()
    page.get_by_label("Address or name contains").fill("ruiz")
    page.get_by_role("button", name="Search").click()
    page.wait_for_selector("td:has-text('Ana Ruiz')")
    screenshot(page, shots, "audience-subscribers-1280")

    # Statistics: the chart over the latest issues, then the issue's clicks by story.
    page.get_by_role("link", name="Statistics").click()
    page.wait_for_selector("h1:has-text('Statistics')")
    assert page.locator("svg.chart rect").count() == 4  # the issue and the three before it
    assert page.locator("table.stats tr").count() == 5
    fits(page, "the statistics at 1280 px")
    screenshot(page, shots, "audience-stats-1280")
    page.get_by_role("link", name=period).click()
    page.wait_for_selector(f"h1:has-text('Issue {period}')")
    stories = page.locator("table.stories").inner_text()
    assert STORIES[1][0] in stories and STORIES[0][0] in stories
    assert "https://example.com" not in page.locator("main").inner_text()
    assert "View in browser" in page.locator("main").inner_text()
    screenshot(page, shots, "audience-issue-stats-1280")

    page.set_viewport_size({"width": 375, "height": 800})
    for path, name in (
        (f"/admin/stats/{period}", "audience-issue-stats-375"),
        ("/admin/stats", "audience-stats-375"),
        ("/admin/subscribers?q=ruiz", "audience-subscribers-375"),
        ("/admin/subscribers/import", "audience-import-375"),
    ):
        page.goto(base_url + path)
        fits(page, f"{path} at 375 px")
        screenshot(page, shots, name)
    page.goto(f"{base_url}/admin/subscribers?q=vidal")
    page.get_by_role("link", name="carmen.vidal@example.org").click()
    fits(page, "a subscriber's page at 375 px")
    screenshot(page, shots, "audience-subscriber-375")
    assert problems == []  # no script errors, no Content-Security-Policy violations
    context.close()
