"""The workbench's subscriber and statistics pages over real HTTP (the app under uvicorn on
127.0.0.1), on SQLite and PostgreSQL: signed-out requests and forms without the CSRF token
change nothing; editors read, only admins export and import; the two-step Mailchimp import
with a column mapping; validation that names the field; clicks shown by story title."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher

import newsletter.service.accounts as accounts_service
from newsletter.service.accounts import add_account
from newsletter.service.app import App
from newsletter.service.subscribers import add_subscriber, list_subscribers
from newsletter.storage.db import session_scope
from newsletter.storage.models import Delivery
from newsletter.storage.queries.links import ClickRecord, record_clicks
from tests.db_faults import read_only_engine
from tests.smtp_server import free_port
from tests.web_helpers import add_issue, add_link, add_row, create_app, web_app

DATA = Path(__file__).resolve().parents[1] / "data" / "audience"
EDITOR = "editor@news.example.com"
ADMIN = "admin@news.example.com"
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
UPLOAD = re.compile(r'name="upload" value="([^"]+)"')


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2id parameters (the same library and code path; test_admin checks the real
    ones), so that sign-ins do not dominate the run on a busy machine."""
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts_service, "_hasher", quick)
    monkeypatch.setattr(accounts_service, "_DUMMY_HASH", quick.hash("dummy"))


@contextmanager
def serving(app: App, port: int) -> Iterator[str]:
    """The web app under uvicorn on a loopback port; its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def site(make_app: Any) -> Iterator[tuple[App, str]]:
    port = free_port()
    # Served over http: the base URL is http too, so the session cookie is not Secure-only.
    app = web_app(make_app, base_url=f"http://127.0.0.1:{port}")
    add_account(app, EDITOR, "editor", PASSWORD)
    add_account(app, ADMIN, "admin", PASSWORD)
    with serving(app, port) as base_url:
        yield app, base_url


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


def signed_in(base_url: str, email: str) -> tuple[httpx.Client, str]:
    """A client signed in as ``email``, and its session's CSRF token."""
    client = httpx.Client(base_url=base_url, timeout=30)
    form = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    assert answer.status_code == 303, answer.text
    return client, csrf_of(client.get("/admin/subscribers").text)


def uploads(app: App) -> list[Path]:
    folder = app.settings.data_dir / "imports"
    return sorted(folder.glob("*.csv")) if folder.is_dir() else []


def names(app: App) -> dict[str, str | None]:
    return {s.email: s.name for s in list_subscribers(app)}


def mailchimp() -> dict[str, Any]:
    data = (DATA / "mailchimp_subscribed.csv").read_bytes()
    return {"file": ("audience.csv", data, "text/csv")}


def test_signed_out_requests_see_nothing_and_change_nothing(site: tuple[App, str]) -> None:
    app, base_url = site
    add_subscriber(app, "ana.ruiz@example.com", "Kept Name")
    client = httpx.Client(base_url=base_url, timeout=30)
    for path in (
        "/admin/subscribers",
        "/admin/subscribers.csv",
        "/admin/subscribers/1",
        "/admin/subscribers/import",
        "/admin/stats",
        "/admin/stats/2026-W40",
    ):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/admin/login?next=")
        assert "ana.ruiz" not in answer.text
    answer = client.post("/admin/subscribers/import", files=mailchimp(), data={"csrf_token": "x"})
    assert answer.status_code == 303 and uploads(app) == []
    # A second step naming a real upload, without a session: nothing imported.
    admin, token = signed_in(base_url, ADMIN)
    page = admin.post("/admin/subscribers/import", files=mailchimp(), data={"csrf_token": token})
    upload_id = UPLOAD.search(page.text)
    assert page.status_code == 200 and upload_id
    answer = client.post(
        "/admin/subscribers/import/run",
        data={"csrf_token": token, "upload": upload_id.group(1), "update_names": "on"},
    )
    assert answer.status_code == 303
    assert names(app) == {"ana.ruiz@example.com": "Kept Name"} and len(uploads(app)) == 1


def test_forms_without_the_csrf_token_change_nothing(site: tuple[App, str]) -> None:
    app, base_url = site
    add_subscriber(app, "ana.ruiz@example.com", "Kept Name")
    admin, token = signed_in(base_url, ADMIN)
    for fields in ({}, {"csrf_token": "forged"}):
        answer = admin.post("/admin/subscribers/import", files=mailchimp(), data=fields)
        assert answer.status_code == 403 and "did not come from this site" in answer.text
    assert uploads(app) == []
    page = admin.post("/admin/subscribers/import", files=mailchimp(), data={"csrf_token": token})
    upload_id = UPLOAD.search(page.text)
    assert upload_id
    for fields in ({}, {"csrf_token": "forged"}):
        answer = admin.post(
            "/admin/subscribers/import/run",
            data={"upload": upload_id.group(1), "update_names": "on", **fields},
        )
        assert answer.status_code == 403
    assert names(app) == {"ana.ruiz@example.com": "Kept Name"} and len(uploads(app)) == 1


def test_editors_read_only_admins_export_and_import(site: tuple[App, str]) -> None:
    app, base_url = site
    row = add_row(app, "reader@example.com", "active", name="Reader One")
    editor, token = signed_in(base_url, EDITOR)
    listing = editor.get("/admin/subscribers", params={"q": "one"})
    assert listing.status_code == 200 and "reader@example.com" in listing.text
    assert "/admin/subscribers.csv" not in listing.text  # no export link for editors
    assert editor.get(f"/admin/subscribers/{row.id}").status_code == 200
    assert editor.get("/admin/stats").status_code == 200
    assert editor.get("/admin/subscribers.csv").status_code == 403
    assert editor.get("/admin/subscribers/import").status_code == 403
    refused = editor.post(
        "/admin/subscribers/import", files=mailchimp(), data={"csrf_token": token}
    )
    assert refused.status_code == 403 and "only admins" in refused.text
    assert uploads(app) == [] and set(names(app)) == {"reader@example.com"}


def test_admin_imports_a_mailchimp_export_with_the_column_mapping(site: tuple[App, str]) -> None:
    app, base_url = site
    add_subscriber(app, "ana.ruiz@example.com", "Ana (kept)")
    admin, token = signed_in(base_url, ADMIN)
    assert admin.get("/admin/subscribers/import").status_code == 200
    page = admin.post("/admin/subscribers/import", files=mailchimp(), data={"csrf_token": token})
    assert page.status_code == 200
    assert "Mailchimp export" in page.text and "4 rows after the header row" in page.text
    assert '<option value="1" selected>1. Email Address</option>' in page.text
    assert "first and last name (columns 2 and 3)" in page.text
    assert 'name="update_names">' in page.text  # unchecked by default
    upload_id = UPLOAD.search(page.text)
    assert upload_id

    # The editor picks "First Name" as the name column; update existing names stays off.
    done = admin.post(
        "/admin/subscribers/import/run",
        data={
            "csrf_token": token,
            "upload": upload_id.group(1),
            "email_column": "1",
            "name_column": "2",
        },
    )
    assert done.status_code == 200, done.text
    assert "Mailchimp export: 2 added, 0 updated, 1 unchanged" in done.text
    assert "line 5:" in done.text  # the row that is not an address, with its line
    assert names(app) == {
        "ana.ruiz@example.com": "Ana (kept)",
        "wang.fang@example.cn": "芳",
        "no.name@example.org": None,
    }
    found = admin.get("/admin/subscribers", params={"q": "wang"})
    assert "芳" in found.text and "wang.fang@example.cn" in found.text
    assert uploads(app) == []  # deleted once imported
    again = admin.post(
        "/admin/subscribers/import/run", data={"csrf_token": token, "upload": upload_id.group(1)}
    )
    assert again.status_code == 400 and "file: this upload was imported already" in again.text


def test_validation_names_the_field(site: tuple[App, str]) -> None:
    app, base_url = site
    admin, token = signed_in(base_url, ADMIN)
    bad = admin.get("/admin/subscribers", params={"status": "deleted"})
    assert bad.status_code == 400 and "status: must be one of" in bad.text
    assert admin.get("/admin/subscribers", params={"page": "x"}).status_code == 400
    empty = admin.post(
        "/admin/subscribers/import",
        files={"file": ("", b"", "text/csv")},
        data={"csrf_token": token},
    )
    assert empty.status_code == 400 and "file: choose a CSV file" in empty.text
    hostile = b'email,"<script>alert(1)</script>"\nx@example.com,"<img src=x onerror=alert(2)>"\n'
    shown = admin.post(
        "/admin/subscribers/import",
        files={"file": ("h.csv", hostile, "text/csv")},
        data={"csrf_token": token},
    )
    assert shown.status_code == 200 and "<script>alert" not in shown.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text and "<img src=x" not in shown.text
    page = admin.post("/admin/subscribers/import", files=mailchimp(), data={"csrf_token": token})
    upload_id = UPLOAD.search(page.text)
    assert upload_id
    wrong = admin.post(
        "/admin/subscribers/import/run",
        data={"csrf_token": token, "upload": upload_id.group(1), "email_column": "99"},
    )
    assert wrong.status_code == 400 and "email column: choose one of the file" in wrong.text
    assert 'name="upload"' in wrong.text  # the mapping form again, to correct it
    assert names(app) == {}
    assert admin.get("/admin/subscribers/999999").status_code == 404


def test_export_neutralises_formula_cells(site: tuple[App, str]) -> None:
    app, base_url = site
    add_subscriber(app, "calc@example.com", '=HYPERLINK("http://x.example","hi")')
    admin, _ = signed_in(base_url, ADMIN)
    answer = admin.get("/admin/subscribers.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert "calc@example.com,\"'=HYPERLINK(" in answer.text


def test_statistics_name_stories_not_urls(site: tuple[App, str]) -> None:
    app, base_url = site
    sent_at = datetime.now(UTC) - timedelta(days=9)
    stories = [
        {"id": 11, "title": "Acme raises <$25M>", "url": "https://news.example/acme"},
        {"id": 12, "title": "FDA approves a pill", "url": "https://news.example/fda"},
    ]
    content = {
        "item_count": 2,
        "sections": [{"id": "headlines", "title": "Headlines", "items": stories}],
    }
    issue = add_issue(app, "2026-W40", sent_at=sent_at, content=content)
    add_issue(app, "2026-W41", sent_at=sent_at + timedelta(days=7))
    assert issue.id is not None
    acme = add_link(app, issue.id, "https://news.example/acme")
    add_link(app, issue.id, "https://news.example/fda")  # nobody clicked it: listed with 0
    view = add_link(app, issue.id, f"{app.settings.base_url}/archive/2026-W40")
    readers = [add_row(app, f"r{n}@example.com", "active") for n in range(4)]
    with session_scope(app.engine) as session:
        for reader in readers:
            session.add(Delivery(issue_id=issue.id, subscriber_id=reader.id, status="sent"))
        # As the click redirect counts them: the link's counter and one row per click.
        record_clicks(
            session,
            [
                ClickRecord(link.id, issue.id, reader.id, sent_at)
                for reader, link in (
                    (readers[0], acme),
                    (readers[0], acme),
                    (readers[1], acme),
                    (readers[2], view),
                )
                if link.id is not None and reader.id is not None
            ],
        )
    editor, _ = signed_in(base_url, EDITOR)
    overview = editor.get("/admin/stats")
    assert overview.status_code == 200
    assert "<svg" in overview.text and "<script" not in overview.text
    assert "2026-W40" in overview.text and "2026-W41" in overview.text
    page = editor.get("/admin/stats/2026-W40")
    assert page.status_code == 200
    assert "Acme raises &lt;$25M&gt;" in page.text and "FDA approves a pill" in page.text
    assert "View in browser" in page.text
    assert "https://news.example/" not in page.text  # titles, not raw URLs
    # Acme: two readers of four delivered; the issue: three readers.
    assert "50.0 %" in page.text and "75.0 %" in page.text
    cells = re.findall(r'<td class="num">(\d+)</td>', page.text)
    assert cells[:2] == ["3", "2"]  # Acme: 3 clicks by 2 readers
    assert editor.get("/admin/stats/2026-W01").status_code == 404
    assert editor.get("/admin/stats/nonsense").status_code == 404


def test_an_import_the_database_stops_keeps_the_file_and_says_so(
    site: tuple[App, str], database_url: str
) -> None:
    """The database stops taking writes (read-only, as a full disk looks): the answer is 503
    with the mapping form again, not "nothing was changed"; the upload is kept, and the same
    import goes through once the database takes writes."""
    app, base_url = site
    admin, token = signed_in(base_url, ADMIN)
    page = admin.post("/admin/subscribers/import", files=mailchimp(), data={"csrf_token": token})
    upload_id = UPLOAD.search(page.text)
    assert upload_id
    fields = {"csrf_token": token, "upload": upload_id.group(1)}
    read_only = App(app.settings, app.config, read_only_engine(database_url))
    try:
        with serving(read_only, free_port()) as stuck_url:  # the same cookies: 127.0.0.1
            stopped = admin.post(f"{stuck_url}/admin/subscribers/import/run", data=fields)
    finally:
        read_only.engine.dispose()
    assert stopped.status_code == 503
    assert "The rows imported before that are stored" in stopped.text
    assert 'name="upload"' in stopped.text and "sqlite" not in stopped.text.lower()
    assert names(app) == {} and len(uploads(app)) == 1
    done = admin.post("/admin/subscribers/import/run", data=fields)
    assert done.status_code == 200 and "3 added" in done.text
