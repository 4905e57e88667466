"""Debian's Chromium (Playwright) drives the workbench on a real `newsletter serve` over
127.0.0.1: sign in, drop and restore an item (the restore with the keyboard), approve,
unapprove, sign out; the draft page at 375 px and 1280 px, with nothing overflowing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsletter.config import Settings
from newsletter.demo.server import FeedServer
from newsletter.service.accounts import add_account
from newsletter.service.app import open_app
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues
from tests.conftest import write_config
from tests.helpers import STORIES, serve_stories
from tests.smtp_server import free_port
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, fits, screenshot

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

EDITOR = "editor@news.example.com"
PASSWORD = "browser test password"


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Until the server answers (a generous minute: other test runs share the two cores)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"newsletter serve exited with {proc.returncode}:\n{log.read_text()}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"newsletter serve did not answer at {url}:\n{log.read_text()}")


def test_sign_in_drop_restore_approve_unapprove_sign_out(tmp_path: Path, database_url: str) -> None:
    """On SQLite, and on PostgreSQL too with NEWSLETTER_TEST_POSTGRES_URL set."""
    folder = tmp_path
    database = database_url
    settings = Settings(
        data_dir=folder / "data",
        database_url=database,
        base_url="http://127.0.0.1",
        secret_key="browser-test-secret",
        allow_private_addresses=True,
        parse_workers=1,
        fetch_timeout=5.0,
    )
    with FeedServer() as feeds:
        probe = open_app(settings, write_config(folder, []))
        period = resolve_period(probe, now=datetime.now(UTC), due=True)
        probe.engine.dispose()
        config = write_config(folder, [serve_stories(feeds, period.end)])
        app = open_app(settings, config)
        assert ingest(app).new_items == len(STORIES)
    add_account(app, EDITOR, "editor", PASSWORD)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "NEWSLETTER_CONFIG": str(config),
        "NEWSLETTER_DATA_DIR": str(folder / "data"),
        "NEWSLETTER_DATABASE_URL": database,
        "NEWSLETTER_BASE_URL": base_url,
        "NEWSLETTER_SECRET_KEY": "browser-test-secret",
        "NEWSLETTER_MAIL_TRANSPORT": "file",
    }
    log = folder / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "newsletter",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    try:
        _wait_until_up(f"{base_url}/healthz", proc, log)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                _drive(browser, base_url, period.label, tmp_path)
            finally:
                browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with session_scope(app.engine) as session:
        logged = [(a.action, a.actor) for a in issues.actions(session, period.label)]
    app.engine.dispose()
    assert logged == [
        ("drop", EDITOR),
        ("restore", EDITOR),
        ("approve", EDITOR),
        ("unapprove", EDITOR),
    ]


def _drive(browser: Any, base_url: str, period: str, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{base_url}/admin/issues/{period}")  # no session: the sign-in form
    page.wait_for_selector("h1:has-text('Sign in')")
    page.get_by_label("Email address").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f"h1:has-text('Issue {period}')")
    frame = page.frame_locator("iframe.frame")
    assert "Test Health Weekly" in frame.locator("h1").first.inner_text()
    cookie = next(c for c in context.cookies() if c["name"] == "newsletter_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/admin"
    fits(page, "the draft page at 1280 px")
    screenshot(page, shots, "admin-draft-1280")

    # The phone width switch narrows the framed email.
    page.get_by_label("Phone (375 px)").check()
    assert page.locator("iframe.frame").bounding_box()["width"] <= 376  # type: ignore[index]

    first = page.locator("ol.itemlist li.item").first
    title = first.locator(".item-title").inner_text().replace("Pinned", "").strip()
    page.get_by_role("button", name=f"Drop: {title}").click()
    page.wait_for_selector("text=Dropped item")
    assert page.locator("li.left-out", has_text=title).count() == 1
    assert "dropped by " + EDITOR in page.locator("li.left-out", has_text=title).inner_text()

    restore = page.get_by_role("button", name=f"Restore: {title}")
    restore.focus()
    page.keyboard.press("Enter")  # usable without a mouse
    page.wait_for_selector("text=Restored item")
    assert page.locator("li.left-out", has_text=title).count() == 0

    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_selector("text=Approved: the content is frozen")
    assert page.locator("button[value=drop]").count() == 0  # frozen: no item buttons
    page.get_by_role("button", name="Return to draft (unapprove)").click()
    page.wait_for_selector("text=Returned to a draft")

    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    fits(page, "the draft page at 375 px")
    screenshot(page, shots, "admin-draft-375")
    page.screenshot(path=str(shots / "admin-draft-375-top.png"))  # what a phone shows first
    log = page.locator("ol.log li")
    assert log.count() == 4 and EDITOR in log.first.inner_text()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("text=You are signed out.")
    page.goto(f"{base_url}/admin/issues/{period}")
    page.wait_for_selector("h1:has-text('Sign in')")  # the session is gone
    screenshot(page, shots, "admin-login-375")
    assert problems == []  # no script errors, no Content-Security-Policy violations
    context.close()
