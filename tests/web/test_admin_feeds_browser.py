"""Debian's Chromium (Playwright) drives the feed page and special issues on a real
`newsletter serve` over 127.0.0.1: an admin adds a feed, disables it, enables it again and
creates a special issue; the pages at 375 px and 1280 px, with nothing overflowing.

Screenshots go to the test's folder (and to NEWSLETTER_SCREENSHOTS_DIR when it is set)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Settings, load_config
from newsletter.service.accounts import add_account
from newsletter.service.app import open_app
from newsletter.service.specials import special_issues
from tests.browsing import chromium, fits, require_chromium, screenshot, serve
from tests.conftest import write_config
from tests.web_helpers import FEEDS

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not
require_chromium()

ADMIN = "admin@news.example.com"
PASSWORD = "browser test password"


def test_add_disable_enable_a_feed_and_create_a_special_issue(
    tmp_path: Path, database_url: str
) -> None:
    """On SQLite, and on PostgreSQL too with NEWSLETTER_TEST_POSTGRES_URL set."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        base_url="http://127.0.0.1",
        secret_key="browser-test-secret",
        allow_private_addresses=True,
    )
    config = write_config(tmp_path, FEEDS)
    app = open_app(settings, config)
    add_account(app, ADMIN, "admin", PASSWORD)
    env = {
        **os.environ,
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATA_DIR": str(tmp_path / "data"),
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_SECRET_KEY": "browser-test-secret",
        "NEWSLETTER_MAIL_TRANSPORT": "file",
    }
    with serve(env, tmp_path) as server, chromium() as browser:
        _drive(browser, server.base_url, tmp_path)
    feed = load_config(config).feed("Trial feed")
    assert feed.enabled and feed.url == "https://trial.example/rss" and feed.section == "industry"
    assert (tmp_path / "feeds.yaml.bak").exists()
    assert [(s.period, s.title) for s in special_issues(app)] == [
        ("special-2026-asco", "ASCO 2026")
    ]
    app.engine.dispose()


def _drive(browser: Any, base_url: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{base_url}/admin/feeds")  # no session: the sign-in form, then back here
    page.wait_for_selector("h1:has-text('Sign in')")
    page.get_by_label("Email address").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:has-text('Feeds')")

    page.get_by_label("Name (shown to readers as the source)").fill("Trial feed")
    page.get_by_label("Feed address (http or https)").fill("https://trial.example/rss")
    page.get_by_label("Section", exact=True).select_option("industry")
    page.get_by_role("button", name="Add feed").click()
    page.wait_for_selector("text=Feed added to feeds.yaml")
    card = page.locator("li.feed", has_text="Trial feed")
    assert "never" in card.inner_text()  # not polled yet

    page.get_by_role("button", name="Disable: Trial feed").click()
    page.wait_for_selector("text=Feed disabled in feeds.yaml")
    assert "disabled" in page.locator("li.feed", has_text="Trial feed").inner_text().lower()
    fits(page, "the feed page at 1280 px")
    screenshot(page, shots, "admin-feeds-1280")

    enable = page.get_by_role("button", name="Enable: Trial feed")
    enable.focus()
    page.keyboard.press("Enter")  # usable without a mouse
    page.wait_for_selector("text=Feed enabled again")
    assert page.get_by_role("button", name="Disable: Trial feed").count() == 1
    changes = page.locator("ol.feed-changes li")  # newest first, with the account
    assert [changes.nth(i).inner_text().splitlines()[0] for i in range(changes.count())] == [
        "Trial feed: enabled",
        "Trial feed: disabled",
        "Trial feed: added (https://trial.example/rss in industry)",
    ]
    assert all(ADMIN in changes.nth(i).inner_text() for i in range(3))

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    fits(page, "the feed page at 375 px")
    screenshot(page, shots, "admin-feeds-375")

    page.get_by_role("link", name="Special issues").click()
    page.wait_for_selector("h1:has-text('Special issues')")
    page.get_by_label("Name (lowercase letters").fill("2026-asco")
    page.get_by_label("Title (in the subject and masthead)").fill("ASCO 2026")
    page.get_by_label("First day of the items").fill("2026-06-01")
    page.get_by_label("Last day (included)").fill("2026-06-05")
    page.get_by_role("button", name="Create special issue").click()
    page.wait_for_selector("text=Special issue special-2026-asco created")
    fits(page, "the special issues page at 375 px")
    screenshot(page, shots, "admin-specials-375")
    page.set_viewport_size({"width": 1280, "height": 900})
    screenshot(page, shots, "admin-specials-1280")
    page.get_by_role("link", name="ASCO 2026").click()
    page.wait_for_selector("h1:has-text('special-2026-asco')")
    assert problems == []  # no script errors, no Content-Security-Policy violations
    context.close()
