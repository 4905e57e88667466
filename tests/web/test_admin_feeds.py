"""The workbench's feed page and special issues over a real server (uvicorn on 127.0.0.1) and a
real database (SQLite, and PostgreSQL with NEWSLETTER_TEST_POSTGRES_URL): logged-out and
forged requests change nothing, editors see the feeds but only admins change them, every form
error names its field, a stale form is refused, OPML goes in and out, and editors create
special issues."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from newsletter.config import load_config
from newsletter.service.accounts import add_account
from newsletter.service.app import App
from newsletter.service.feededits import feeds_version, recent_feed_changes
from newsletter.service.specials import special_issues
from newsletter.web import create_app
from tests.smtp_server import free_port
from tests.web.test_admin import quick_hashing  # noqa: F401  (autouse: cheap argon2 here too)
from tests.web_helpers import web_app

EDITOR = "editor@news.example.com"
ADMIN = "admin@news.example.com"
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="([0-9a-f]{16})"')
OPML = (
    b'<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head><title>Mine</title></head>'
    b'<body><outline text="Reports" category="reports">'
    b'<outline type="rss" text="Analysts &amp;amp; Co" xmlUrl="https://analysts.example/rss"/>'
    b"</outline></body></opml>"
)


@pytest.fixture
def served(make_app: Any) -> Iterator[tuple[App, str]]:
    """The web app on a real uvicorn server on 127.0.0.1, with an editor and an admin."""
    app = web_app(make_app, base_url="http://127.0.0.1")
    add_account(app, EDITOR, "editor", PASSWORD)
    add_account(app, ADMIN, "admin", PASSWORD)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, follow_redirects=False, timeout=30)


def signed_in(base: str, email: str) -> httpx.Client:
    browser = client(base)
    form = browser.get("/admin/login")
    token = CSRF.search(form.text)
    assert token
    answer = browser.post(
        "/admin/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text[:300]
    return browser


def tokens(page: httpx.Response) -> tuple[str, str]:
    """The page's CSRF token and feeds.yaml version."""
    csrf, version = CSRF.search(page.text), VERSION.search(page.text)
    assert csrf and version, page.text[:500]
    return csrf.group(1), version.group(1)


def file_text(app: App) -> str:
    return app.config.path.read_text(encoding="utf-8")


def test_logged_out_and_forged_requests_change_nothing(served: tuple[App, str]) -> None:
    app, base = served
    before = file_text(app)
    anonymous = client(base)
    assert anonymous.get("/admin/feeds").headers["location"] == "/admin/login?next=/admin/feeds"
    add = {"action": "add", "name": "X", "url": "https://x.example/", "section": "headlines"}
    for path, data in (
        ("/admin/feeds", add),
        ("/admin/feeds", {"action": "disable", "name": "English"}),
        ("/admin/feeds/edit", {"original": "English", "name": "Y", "url": "https://y.example/"}),
        ("/admin/specials", {"name": "x", "from": "2026-06-01", "to": "2026-06-02", "title": "X"}),
    ):
        answer = anonymous.post(path, data=data)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/admin/login")
    upload = anonymous.post("/admin/feeds/import", files={"file": ("f.opml", OPML)})
    assert upload.status_code == 303
    admin = signed_in(base, ADMIN)
    _, version = tokens(admin.get("/admin/feeds"))
    for token in (None, "forged"):
        data = {"action": "disable", "name": "English", "version": version}
        if token:
            data["csrf_token"] = token
        assert admin.post("/admin/feeds", data=data).status_code == 403
    assert admin.post("/admin/feeds/import", files={"file": ("f.opml", OPML)}).status_code == 403
    assert admin.post("/admin/specials", data={"name": "x"}).status_code == 403
    assert file_text(app) == before and not app.config.path.with_name("feeds.yaml.bak").exists()
    assert special_issues(app) == []
    assert recent_feed_changes(app) == []  # nothing refused reaches the action log


def test_editors_see_the_health_but_only_admins_change_feeds(served: tuple[App, str]) -> None:
    app, base = served
    before = file_text(app)
    editor = signed_in(base, EDITOR)
    page = editor.get("/admin/feeds")
    assert page.status_code == 200
    assert "English" in page.text and "中文" in page.text and "never" in page.text
    assert "Disable" not in page.text and "Add a feed" not in page.text
    assert "Only admins add, change, disable or import feeds." in page.text
    csrf_match = CSRF.search(page.text)  # the sign-out form's: the session's token
    assert csrf_match and not VERSION.search(page.text)  # no feed forms for an editor
    csrf, version = csrf_match.group(1), feeds_version(app)
    refused = editor.post(
        "/admin/feeds",
        data={"action": "disable", "name": "English", "version": version, "csrf_token": csrf},
    )
    assert refused.status_code == 403 and "only admins change the feeds" in refused.text
    assert editor.get("/admin/feeds/edit", params={"name": "English"}).status_code == 403
    imported = editor.post(
        "/admin/feeds/import",
        data={"csrf_token": csrf, "version": version},
        files={"file": ("f.opml", OPML)},
    )
    assert imported.status_code == 403
    assert file_text(app) == before
    assert editor.get("/admin/feeds.opml").status_code == 200  # export is reading


def test_admin_adds_edits_disables_and_enables_and_stale_forms_are_refused(
    served: tuple[App, str],
) -> None:
    app, base = served
    admin = signed_in(base, ADMIN)
    page = admin.get("/admin/feeds")
    csrf, version = tokens(page)
    feed = {"action": "add", "csrf_token": csrf, "version": version, "section": "headlines"}
    bad = admin.post("/admin/feeds", data={**feed, "name": "New", "url": "ftp://new.example/"})
    assert bad.status_code == 400
    assert "url: must be an http or https URL" in bad.text
    assert re.search(r'id="feed-url" name="url" aria-invalid="true"', bad.text)
    assert 'value="New"' in bad.text  # what was typed stays in the form
    duplicate = admin.post(
        "/admin/feeds", data={**feed, "name": "english", "url": "https://new.example/"}
    )
    assert duplicate.status_code == 400 and "name: a feed named &#39;English&#39;" in duplicate.text
    added = admin.post(
        "/admin/feeds",
        data={**feed, "name": "New feed", "url": "https://new.example/rss", "language": "en"},
    )
    assert added.status_code == 303 and added.headers["location"] == "/admin/feeds?done=added"
    assert load_config(app.config.path).feed("New feed").url == "https://new.example/rss"
    shown = admin.get("/admin/feeds?done=added")
    assert "Feed added to feeds.yaml" in shown.text and "New feed" in shown.text

    # The first page's version is stale now: its disable is refused and nothing changes.
    stale = admin.post(
        "/admin/feeds",
        data={"action": "disable", "name": "English", "version": version, "csrf_token": csrf},
    )
    assert stale.status_code == 409 and "changed after this page was loaded" in stale.text
    assert load_config(app.config.path).feed("English").enabled

    _, version = tokens(shown)
    off = admin.post(
        "/admin/feeds",
        data={"action": "disable", "name": "English", "version": version, "csrf_token": csrf},
    )
    assert off.status_code == 303 and not load_config(app.config.path).feed("English").enabled
    page = admin.get(off.headers["location"])
    assert "Feed disabled" in page.text and 'aria-label="Enable: English"' in page.text
    _, version = tokens(page)
    on = admin.post(
        "/admin/feeds",
        data={"action": "enable", "name": "English", "version": version, "csrf_token": csrf},
    )
    assert on.status_code == 303 and load_config(app.config.path).feed("English").enabled

    form = admin.get("/admin/feeds/edit", params={"name": "English"})
    assert form.status_code == 200 and 'value="English"' in form.text
    _, version = tokens(form)
    edit = {
        "csrf_token": csrf,
        "version": version,
        "original": "English",
        "url": "http://127.0.0.1:9/en.xml",
    }
    wrong = admin.post(
        "/admin/feeds/edit",
        data={**edit, "name": "English", "section": "nowhere", "language": "en"},
    )
    assert wrong.status_code == 400 and "section: &#39;nowhere&#39; is not one of" in wrong.text
    saved = admin.post(
        "/admin/feeds/edit",
        data={
            **edit,
            "name": "English news",
            "section": "industry",
            "language": "en",
            "weight": "2",
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/feeds?done=changed"
    changed = load_config(app.config.path).feed("English news")
    assert (changed.section, changed.weight) == ("industry", 2.0)
    assert "English news" in app.feeds_by_name  # the running app uses it at once
    backup = app.config.path.with_name("feeds.yaml.bak").read_text(encoding="utf-8")
    assert "name: English\n" in backup and "English news" not in backup


def test_opml_upload_adds_feeds_and_the_export_lists_them(served: tuple[App, str]) -> None:
    app, base = served
    admin = signed_in(base, ADMIN)
    csrf, version = tokens(admin.get("/admin/feeds"))
    answer = admin.post(
        "/admin/feeds/import",
        data={"csrf_token": csrf, "version": version, "section": "headlines"},
        files={"file": ("mine.opml", OPML, "text/x-opml")},
    )
    assert answer.status_code == 200, answer.text[:500]
    assert "1 feed(s) added, 0 skipped." in answer.text
    assert "added Analysts &amp; Co (reports)" in answer.text
    assert load_config(app.config.path).feed("Analysts & Co").section == "reports"
    exported = admin.get("/admin/feeds.opml")
    assert 'xmlUrl="https://analysts.example/rss"' in exported.text
    empty = admin.post(
        "/admin/feeds/import",
        data={"csrf_token": csrf, "version": tokens(answer)[1]},
        files={"file": ("empty.opml", b"")},
    )
    assert empty.status_code == 400 and "file: choose an OPML file" in empty.text
    broken = admin.post(
        "/admin/feeds/import",
        data={"csrf_token": csrf, "version": tokens(answer)[1]},
        files={"file": ("x.opml", b"<opml><body><outline")},
    )
    assert broken.status_code == 400 and "not well-formed XML" in broken.text


def test_editors_create_special_issues_with_errors_named_by_field(
    served: tuple[App, str],
) -> None:
    app, base = served
    editor = signed_in(base, EDITOR)
    page = editor.get("/admin/specials")
    assert page.status_code == 200 and "No special issues yet." in page.text
    csrf = CSRF.search(page.text)
    assert csrf
    form = {"csrf_token": csrf.group(1), "name": "2026-asco", "title": "ASCO 2026"}
    backwards = editor.post(
        "/admin/specials", data={**form, "from": "2026-06-05", "to": "2026-06-01"}
    )
    assert (
        backwards.status_code == 400 and "to: the last day (2026-06-01) is before" in backwards.text
    )
    assert re.search(r'id="special-to" name="to" aria-invalid="true"', backwards.text)
    not_a_date = editor.post("/admin/specials", data={**form, "from": "June", "to": "2026-06-01"})
    assert not_a_date.status_code == 400 and "from: enter a date as YYYY-MM-DD" in not_a_date.text
    bad_name = editor.post(
        "/admin/specials", data={**form, "name": "ASCO!", "from": "2026-06-01", "to": "2026-06-05"}
    )
    assert bad_name.status_code == 400 and "name: special issue name" in bad_name.text
    made = editor.post("/admin/specials", data={**form, "from": "2026-06-01", "to": "2026-06-05"})
    assert made.status_code == 303
    assert made.headers["location"] == "/admin/specials?created=special-2026-asco"
    listed = editor.get(made.headers["location"])
    assert "Special issue special-2026-asco created" in listed.text
    assert "items from 2026-06-01 to 2026-06-05" in listed.text
    assert 'href="/admin/issues/special-2026-asco"' in listed.text
    draft = editor.get("/admin/issues/special-2026-asco")
    assert draft.status_code == 200 and "special-2026-asco" in draft.text
    again = editor.post("/admin/specials", data={**form, "from": "2026-06-01", "to": "2026-06-05"})
    assert again.status_code == 400 and "exists already" in again.text
    assert [(s.period, s.title) for s in special_issues(app)] == [
        ("special-2026-asco", "ASCO 2026")
    ]


def test_the_feed_page_lists_recent_changes_with_the_account(served: tuple[App, str]) -> None:
    app, base = served
    admin = signed_in(base, ADMIN)
    page = admin.get("/admin/feeds")
    assert "Recent changes" in page.text and "No changes made in the workbench yet." in page.text
    csrf, version = tokens(page)
    off = admin.post(
        "/admin/feeds",
        data={"action": "disable", "name": "English", "version": version, "csrf_token": csrf},
    )
    assert off.status_code == 303
    _, version = tokens(admin.get("/admin/feeds"))
    answer = admin.post(
        "/admin/feeds/import",
        data={"csrf_token": csrf, "version": version, "section": "headlines"},
        files={"file": ("mine.opml", OPML, "text/x-opml")},
    )
    assert answer.status_code == 200, answer.text[:500]

    editor = signed_in(base, EDITOR)  # editors read the log too
    shown = editor.get("/admin/feeds").text
    rows = re.findall(
        r'<li class="feed-change"><strong>([^<]+)</strong>: ([^<]+)<br>'
        r'<span class="meta">([^<]+) UTC · ([^<]+)</span></li>',
        shown,
    )
    assert [(feed, what, who) for feed, what, _when, who in rows] == [
        (
            "Analysts &amp; Co",
            "imported (https://analysts.example/rss in reports, from OPML)",
            ADMIN,
        ),
        ("English", "disabled", ADMIN),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", when) for *_, when, _who in rows)
    assert [c.actor for c in recent_feed_changes(app)] == [ADMIN, ADMIN]
