"""The workbench's acceptance flow in Debian's Chromium (Playwright) on a real `newsletter serve`
over 127.0.0.1, on SQLite (and on PostgreSQL with NEWSLETTER_TEST_POSTGRES_URL): sign in; drop,
restore (with the keyboard), move and reorder; edit a title and a financing amount and see them
in the preview, in a test copy and in the sent copy caught by a local aiosmtpd server; write the
viewpoint with its live preview; approve, unapprove, approve; sign out. The draft page at
375 px and 1280 px, with nothing overflowing (screenshots also go to NEWSLETTER_SCREENSHOTS_DIR
when it is set)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import Settings
from newsletter.demo.server import FeedServer
from newsletter.email.transports import SmtpSettings, SmtpTransport
from newsletter.service.accounts import add_account
from newsletter.service.app import open_app
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.subscribers import add_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues
from tests.browsing import chromium, fits, require_chromium, screenshot, serve, watched_page
from tests.conftest import write_config
from tests.helpers import STORIES, serve_stories
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.slow  # a system test: `make test` runs it, `make test-fast` does not
require_chromium()

EDITOR = "editor@news.example.com"
PASSWORD = "browser test password"
DESK = "desk@news.example.com"
READER = "reader@example.org"
NEW_TITLE = "FDA clears the first GLP-1 pill, for adults"
SECRET = "browser-test-secret"


def test_the_whole_draft_flow_in_a_browser(tmp_path: Path, database_url: str) -> None:
    """On SQLite, and on PostgreSQL too with NEWSLETTER_TEST_POSTGRES_URL set."""
    folder = tmp_path
    settings = Settings(
        data_dir=folder / "data",
        database_url=database_url,
        base_url="http://127.0.0.1",
        secret_key=SECRET,
        allow_private_addresses=True,
        parse_workers=1,
        fetch_timeout=5.0,
    )
    with FeedServer() as feeds:
        probe = open_app(settings, write_config(folder, []))
        period = resolve_period(probe, now=datetime.now(UTC), due=True)
        probe.engine.dispose()
        config = write_config(
            folder, [serve_stories(feeds, period.end)], test_recipients=[DESK], min_items=1
        )
        app = open_app(settings, config)
        assert ingest(app).new_items == len(STORIES)
    add_account(app, EDITOR, "editor", PASSWORD)
    add_subscriber(app, READER, "Reader")
    with SmtpServer() as smtp:
        env = {
            **os.environ,
            "NEWSLETTER_CONFIG": str(config),
            "NEWSLETTER_DATA_DIR": str(folder / "data"),
            "NEWSLETTER_DATABASE_URL": database_url,
            "NEWSLETTER_SECRET_KEY": SECRET,
            "NEWSLETTER_MAIL_TRANSPORT": "smtp",
            "NEWSLETTER_SMTP_HOST": "127.0.0.1",
            "NEWSLETTER_SMTP_PORT": str(smtp.port),
            "NEWSLETTER_SMTP_TLS": "none",
            "NEWSLETTER_SMTP_TIMEOUT": "5",
        }
        with serve(env, folder) as server, chromium() as browser:
            fda, acme = _drive(browser, server.base_url, period.label, folder / "shots", smtp)
        # The issue as approved in the browser goes to a reader through the real SMTP server.
        transport = SmtpTransport(
            SmtpSettings(host="127.0.0.1", port=smtp.port, tls="none", timeout=5)
        )
        report = send_issue(app, period, transport)
        assert report.sent == 1, report
        (sent,) = [r for r in smtp.received if r.rcpt_tos == [READER]]
        _assert_edited(sent.message())
    with session_scope(app.engine) as session:
        logged = [(a.action, a.item_id, a.actor) for a in issues.actions(session, period.label)]
    app.engine.dispose()
    actions = [a for a, _, _ in logged]
    assert actions == [
        "drop",
        "restore",
        "move",
        "down",
        "edit",
        "facts",
        "viewpoint",
        "test-copy",
        "approve",
        "unapprove",
        "approve",
    ]
    assert all(actor == EDITOR for _, _, actor in logged)
    assert ("edit", fda, EDITOR) in logged and ("facts", acme, EDITOR) in logged


def _assert_edited(message: EmailMessage) -> None:
    """The edited title and amount, and the viewpoint, in both parts of a received copy."""
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html, text = html_part.get_content(), text_part.get_content()
    for part in (html, text):
        assert NEW_TITLE in part
        assert "USD 40.0M" in part
    assert "<strong>home care</strong>" in html and "home care" in text


def _draft(page: Any) -> Any:
    """The framed email (the HTML part as it will be sent)."""
    return page.frame_locator("iframe.frame")


def _item_id(page: Any, title_start: str) -> int:
    item = page.locator("ol.itemlist li.item", has_text=title_start).first
    return int(item.get_attribute("id").removeprefix("item-"))


def _section_ids(page: Any, section: str) -> list[int]:
    ids = page.locator(f"ol[aria-labelledby=section-{section}] > li.item").evaluate_all(
        "items => items.map(i => i.id)"
    )
    return [int(i.removeprefix("item-")) for i in ids]


def _drive(
    browser: Any, base_url: str, period: str, shots: Path, smtp: SmtpServer
) -> tuple[int, int]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = watched_page(context, timeout_ms=60_000)

    page.goto(f"{base_url}/admin/issues/{period}")  # no session: the sign-in form
    page.wait_for_selector("h1:has-text('Sign in')")
    page.get_by_label("Email address").fill(EDITOR)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(f"h1:has-text('Issue {period}')")
    assert "Test Health Weekly" in _draft(page).locator("h1").first.inner_text()
    cookie = next(c for c in context.cookies() if c["name"] == "newsletter_admin")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/admin"
    page.get_by_label("Phone (375 px)").check()  # the width toggle narrows the framed email
    assert page.locator("iframe.frame").bounding_box()["width"] <= 376
    page.get_by_label("Desktop").check()
    assert page.locator("iframe.frame").bounding_box()["width"] > 376
    page.locator("details.textpart summary").click()
    assert "Test Health Weekly" in page.locator("pre.text").inner_text()  # the text part

    # Drop, and restore with the keyboard.
    first = page.locator("ol.itemlist li.item").first
    title = first.locator(".item-title").inner_text().replace("Pinned", "").strip()
    page.get_by_role("button", name=f"Drop: {title}").click()
    page.wait_for_selector("text=Dropped item")
    assert "dropped by " + EDITOR in page.locator("li.left-out", has_text=title).inner_text()
    page.get_by_role("button", name=f"Restore: {title}").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Restored item")
    assert page.locator("li.left-out", has_text=title).count() == 0

    # Move an item to another section.
    orbis = _item_id(page, "Orbis Robotics")
    page.locator(f"#move-{orbis}").select_option("reports")
    page.get_by_role("button", name="Move: Orbis Robotics", exact=False).click()
    page.wait_for_selector("text=Moved item")
    assert orbis in _section_ids(page, "reports")

    # Reorder within the financing section (the first one goes down), with the keyboard.
    before = _section_ids(page, "financing")
    assert len(before) >= 2
    down = page.locator(f"#item-{before[0]} button[value=down]")
    down.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Moved item")
    assert _section_ids(page, "financing")[:2] == [before[1], before[0]]

    # Edit a title and a financing amount (the financing table shows the company, round and
    # amount rather than the title); both show in the framed email at once.
    fda = _item_id(page, "FDA approves")
    page.locator(f"#item-{fda} details.edit summary").click()
    page.locator(f"#title-{fda}").fill(NEW_TITLE)
    page.locator(f"#item-{fda} button[value=edit]").click()
    page.wait_for_selector("text=Saved the text of item")
    acme = _item_id(page, "Acme Health")
    # A wrong amount is refused with the field named; nothing is applied.
    page.locator(f"#item-{acme} details.edit summary").click()
    page.locator(f"#amount-{acme}").fill("forty")
    page.locator(f"#currency-{acme}").fill("USD")
    page.locator(f"#item-{acme} button[value=facts]").click()
    page.wait_for_selector("text=amount: cannot read 'forty' as an amount")
    assert page.locator(f"#amount-{acme}").input_value() == "forty"  # shown again as typed
    page.locator(f"#amount-{acme}").fill("40M")
    page.locator(f"#item-{acme} button[value=facts]").click()
    page.wait_for_selector("text=Saved the facts of item")
    framed = _draft(page).locator("body").inner_text()
    assert NEW_TITLE in framed and "USD 40.0M" in framed
    assert "edited for this issue: financing" in page.locator(f"#item-{acme}").inner_text()
    assert "edited for this issue: title" in page.locator(f"#item-{fda}").inner_text()

    # The viewpoint: the live preview follows the typing; Save keeps it for this issue.
    page.get_by_label("Viewpoint (Markdown)").fill("This week: **home care** money.")
    page.wait_for_selector("#viewpoint-preview strong:has-text('home care')")
    page.get_by_role("button", name="Save viewpoint").click()
    page.wait_for_selector("text=Saved the viewpoint")
    assert _draft(page).locator("strong", has_text="home care").count() >= 1

    # A test copy to the editorial team, through the real SMTP server.
    page.get_by_role("button", name="Send a test copy").click()
    page.wait_for_selector(f"text=Test copy: sent to {DESK}")
    (copy,) = [r for r in smtp.received if r.rcpt_tos == [DESK]]
    _assert_edited(copy.message())

    fits(page, "the draft page at 1280 px")
    screenshot(page, shots, "admin-draft-1280")
    # A full-page capture leaves the srcdoc frame blank in headless Chromium; what the
    # viewport shows and the frame itself are captured too.
    page.evaluate("document.getElementById('draft-h').scrollIntoView()")
    screenshot(page, shots, "admin-draft-1280-view", full_page=False)
    screenshot(page.locator("iframe.frame"), shots, "admin-draft-frame-1280")
    page.get_by_label("Phone (375 px)").check()
    screenshot(page.locator("div.frame-wrap"), shots, "admin-draft-frame-phone")
    page.get_by_label("Desktop").check()

    # Approve, unapprove, approve.
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_selector("text=Approved: the content is frozen")
    assert page.locator("button[value=drop]").count() == 0  # frozen: no item buttons
    assert page.locator("#viewpoint").count() == 0
    page.get_by_role("button", name="Return to draft (unapprove)").click()
    page.wait_for_selector("text=Returned to a draft")
    page.get_by_role("button", name="Approve", exact=True).click()
    page.wait_for_selector("text=Approved: the content is frozen")

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{base_url}/admin/issues/{period}")
    fits(page, "the draft page at 375 px")
    screenshot(page, shots, "admin-draft-375")
    screenshot(page, shots, "admin-draft-375-top", full_page=False)  # what a phone shows first
    log = page.locator("ol.log li")
    assert log.count() == 11 and EDITOR in log.first.inner_text()
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("text=You are signed out.")
    page.goto(f"{base_url}/admin/issues/{period}")
    page.wait_for_selector("h1:has-text('Sign in')")  # the session is gone
    # The only 4xx on the way was the refused amount (400); no script errors, no CSP violations.
    assert [p for p in page.problems if "400" not in p] == [], page.problems
    context.close()
    return fda, acme
