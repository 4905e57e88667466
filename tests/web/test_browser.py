"""Debian's Chromium (Playwright) against a real `newsletter serve` on 127.0.0.1: subscribe,
confirm from the email the SMTP server caught, preferences, unsubscribe; and the rendered
issue email and the pages at phone and desktop widths, with nothing overflowing sideways."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Settings
from newsletter.demo.server import FeedServer
from newsletter.email.transports import FileTransport
from newsletter.service.app import App, open_app
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.preview import preview_token
from newsletter.service.sending import send_issue
from newsletter.service.subscribers import add_subscriber
from tests.browsing import Server, chromium, fits, require_chromium, screenshot, serve, watched_page
from tests.conftest import write_config
from tests.helpers import serve_stories
from tests.smtp_server import SmtpServer
from tests.web_helpers import FEEDS, confirm_token, eml_files, parse, subscriber

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not

WIDTHS = (375, 1200)
ROOT = Path(__file__).resolve().parents[2]
sync_api = require_chromium()


class Site:
    """A running `newsletter serve` with its App (same database) and SMTP server."""

    def __init__(self, base_url: str, app: App, smtp: SmtpServer, server: Server) -> None:
        self.base_url = base_url
        self.app = app
        self.smtp = smtp
        self.server = server

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("serve")
    config = write_config(folder, FEEDS)
    database = f"sqlite:///{folder / 'web.db'}"
    with SmtpServer() as smtp:
        env = {
            **os.environ,
            "NEWSLETTER_CONFIG": str(config),
            "NEWSLETTER_DATA_DIR": str(folder / "data"),
            "NEWSLETTER_DATABASE_URL": database,
            "NEWSLETTER_MAIL_TRANSPORT": "smtp",
            "NEWSLETTER_SMTP_HOST": "127.0.0.1",
            "NEWSLETTER_SMTP_PORT": str(smtp.port),
            "NEWSLETTER_SMTP_TLS": "none",
            "NEWSLETTER_SMTP_TIMEOUT": "5",
            "NEWSLETTER_SECRET_KEY": "browser-test-secret",
            "NEWSLETTER_PREVIEW_TOKEN": "",
        }
        with serve(env, folder) as server:
            settings = Settings(
                data_dir=folder / "data",
                database_url=database,
                base_url=server.base_url,
                secret_key="browser-test-secret",
            )
            app = open_app(settings, config)
            yield Site(server.base_url, app, smtp, server)
            app.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    yield watched_page(context)
    context.close()


def _wait_for_mail(smtp: SmtpServer, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(smtp.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(smtp.received) >= count, "no confirmation email arrived"


def test_subscribe_confirm_preferences_unsubscribe(site: Site, page: Any, tmp_path: Path) -> None:
    page.goto(site.url("/subscribe"))
    fits(page, "the subscribe page at 375 px")
    screenshot(page, tmp_path, "subscribe-375")
    # The honeypot is there for bots, off-screen for people.
    box = page.locator("#website").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 0
    page.fill("#email", "Browser.Reader@Example.com")
    page.fill("#name", "Browser 读者")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your inbox")

    _wait_for_mail(site.smtp, 1)
    message = site.smtp.received[-1]
    assert message.rcpt_tos == ["browser.reader@example.com"]
    token = confirm_token(message.message())
    text_part = message.message().get_body(("plain",))
    assert text_part is not None
    confirm_url = re.search(r"http://\S+/confirm/\S+", text_part.get_content())
    assert confirm_url is not None and confirm_url.group(0) == site.url(f"/confirm/{token}")
    row = subscriber(site.app, "browser.reader@example.com")
    assert row is not None and row.status == "pending"

    page.goto(confirm_url.group(0))  # what a link scanner does too: nothing changes
    fits(page, "the confirm page")
    assert subscriber(site.app, "browser.reader@example.com").status == "pending"  # type: ignore[union-attr]
    page.click("text=Confirm my subscription")
    page.wait_for_selector("text=Subscription confirmed")
    row = subscriber(site.app, "browser.reader@example.com")
    assert row is not None and row.status == "active" and row.confirm_ip == "127.0.0.1"
    assert row.confirm_user_agent and "Chrome" in row.confirm_user_agent

    page.goto(site.url(f"/preferences/{row.token}"))
    fits(page, "the preferences page at 375 px")
    screenshot(page, tmp_path, "preferences-375")
    for box in page.query_selector_all("input[name=sections]"):
        if box.get_attribute("value") not in ("financing", "events"):
            box.uncheck()
    page.select_option("#language", "zh")
    page.click("text=Save preferences")
    page.wait_for_selector("text=Saved.")
    row = subscriber(site.app, "browser.reader@example.com")
    assert row is not None and (row.sections, row.locale) == (["financing", "events"], "zh")
    assert page.is_checked("input[value=financing]") and not page.is_checked(
        "input[value=headlines]"
    )

    page.click("text=Unsubscribe from")
    page.wait_for_selector("text=You are unsubscribed")
    row = subscriber(site.app, "browser.reader@example.com")
    assert row is not None and row.status == "unsubscribed" and row.unsubscribed_at
    assert page.context.cookies() == []  # nothing on the way needed or set a cookie
    assert page.problems == []  # no script errors, no Content-Security-Policy violations


def test_preview_frames_the_issue_under_the_csp(site: Site, page: Any, tmp_path: Path) -> None:
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(site.url(f"/preview?token={preview_token(site.app)}"))
    page.wait_for_selector("iframe.frame")
    frame = page.frame_locator("iframe.frame")
    assert "Test Health Weekly" in frame.locator("h1").inner_text()
    assert "2 of 2 feeds have not been fetched yet" in page.inner_text("main")
    screenshot(page, tmp_path, "preview-1200")
    assert page.problems == []


def test_issue_email_at_phone_and_desktop_widths(
    site: Site, browser: Any, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A real issue built from the loopback feeds and sent with the file transport."""
    folder = tmp_path_factory.mktemp("issue")
    with FeedServer() as feeds:
        probe = open_app(_settings(folder), write_config(folder, []))
        period = resolve_period(probe, now=datetime.now(UTC), due=True)
        probe.engine.dispose()
        app = open_app(_settings(folder), write_config(folder, [serve_stories(feeds, period.end)]))
        assert ingest(app).new_items == 8
        add_subscriber(app, "reader@example.com", "Reader 读者")
        report = send_issue(app, period, FileTransport(folder / "sent"))
        app.engine.dispose()
    assert report.sent == 1, report
    (eml,) = eml_files(folder / "sent")
    html_part = parse(eml.read_bytes()).get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        tab = context.new_page()
        tab.set_content(html, wait_until="load")
        measured = fits(tab, f"the issue email at {width} px")
        assert measured["innerWidth"] == width
        shot = screenshot(tab, tmp_path, f"issue-email-{width}")
        assert shot.exists()
        context.close()


def _settings(folder: Path) -> Settings:
    return Settings(
        data_dir=folder / "data",
        database_url=f"sqlite:///{folder / 'issue.db'}",
        base_url="https://news.example.com",
        secret_key="browser-test-secret",
        allow_private_addresses=True,
        parse_workers=1,
        fetch_timeout=5.0,
    )
