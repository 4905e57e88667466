"""The editor's workbench under /admin over the real app, on SQLite and PostgreSQL: sign-in,
sessions and CSRF, the draft with per-item actions and approval, stale forms, accounts
(admins only), the sign-in limit, and the feed list as OPML."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

import newsletter.service.accounts as accounts_service
from newsletter.config.opml import read_opml
from newsletter.demo.server import FeedServer
from newsletter.service.accounts import add_account, list_accounts
from newsletter.service.app import App
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.workbench import draft_view
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues
from tests.helpers import STORIES, serve_stories
from tests.web_helpers import FEEDS, TestClient, create_app, web_app

EDITOR = "editor@news.example.com"
ADMIN = "admin@news.example.com"
PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
VERSION = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture(autouse=True)
def quick_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2id parameters, so that thirty sign-ins do not take thirty seconds on a busy
    two-core machine; the same library and code path. The test marked ``real_hashing`` checks
    the production parameters."""
    if "real_hashing" in request.keywords:
        return
    quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts_service, "_hasher", quick)
    monkeypatch.setattr(accounts_service, "_DUMMY_HASH", quick.hash("dummy"))


def https_client(app: App) -> TestClient:
    """A client on https://, as the site's base URL is (the session cookie is Secure)."""
    return TestClient(create_app(app), base_url="https://testserver", follow_redirects=False)


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


def sign_in(client: TestClient, email: str = EDITOR, password: str = PASSWORD) -> Any:
    form = client.get("/admin/login")
    assert form.status_code == 200
    return client.post(
        "/admin/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
    )


@pytest.fixture
def with_items(make_app: Any, feed_server: FeedServer) -> tuple[App, str]:
    """An app with the test stories ingested into the latest due period, and two accounts."""
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC), due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    assert ingest(app).new_items == len(STORIES)
    add_account(app, EDITOR, "editor", PASSWORD)
    add_account(app, ADMIN, "admin", PASSWORD + "!")
    return app, period.label


@pytest.fixture
def no_items(make_app: Any) -> tuple[App, str]:
    """An app whose feeds were never fetched (cheaper), with the same two accounts."""
    app = web_app(make_app)
    add_account(app, EDITOR, "editor", PASSWORD)
    add_account(app, ADMIN, "admin", PASSWORD + "!")
    return app, resolve_period(app, now=datetime.now(UTC), due=True).label


def actions(app: App, period: str) -> list[tuple[str, int | None, str | None]]:
    with session_scope(app.engine) as session:
        return [(a.action, a.item_id, a.actor) for a in issues.actions(session, period)]


def status(app: App, period: str) -> str | None:
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period)
        return issue.status if issue else None


def first_item_id(html: str) -> int:
    match = re.search(r'action="/admin/issues/[^/]+/items/(\d+)"', html)
    assert match, "no item form on the page"
    return int(match.group(1))


def test_sign_in_sets_a_secure_session_and_lists_the_items(with_items: tuple[App, str]) -> None:
    app, period = with_items
    client = https_client(app)
    signed = sign_in(client)
    assert signed.status_code == 303 and signed.headers["location"] == "/admin"
    cookie = next(
        c for c in signed.headers.get_list("set-cookie") if c.startswith("newsletter_admin=")
    )
    for attribute in ("HttpOnly", "Path=/admin", "SameSite=lax", "Secure"):
        assert attribute.lower() in cookie.lower()
    home = client.get("/admin")
    next_period = resolve_period(app).label
    assert home.status_code == 303 and home.headers["location"] == f"/admin/issues/{next_period}"
    page = client.get(f"/admin/issues/{period}")
    assert page.status_code == 200
    text = unescape(page.text)
    for title, _ in STORIES[:3]:
        assert title in text
    assert "srcdoc=" in page.text and "Text part" in page.text
    assert 'type="radio"' in page.text  # the desktop / phone width toggle
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_an_http_site_gets_a_cookie_without_secure(make_app: Any) -> None:
    app = web_app(make_app, base_url="http://localhost:8000")
    add_account(app, EDITOR, "editor", PASSWORD)
    client = TestClient(create_app(app), follow_redirects=False)
    signed = sign_in(client)
    assert signed.status_code == 303
    cookie = next(
        c for c in signed.headers.get_list("set-cookie") if c.startswith("newsletter_admin=")
    )
    assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


def test_logged_out_requests_redirect_and_change_nothing(with_items: tuple[App, str]) -> None:
    app, period = with_items
    client = https_client(app)
    page = client.get(f"/admin/issues/{period}")
    assert page.status_code == 303
    assert page.headers["location"] == f"/admin/login?next=/admin/issues/{period}"
    assert client.get("/admin").status_code == 303
    assert client.get("/admin/feeds.opml").status_code == 303
    assert client.get("/admin/users").status_code == 303
    for path, data in (
        (f"/admin/issues/{period}/items/1", {"action": "drop", "version": "0"}),
        (f"/admin/issues/{period}/status", {"action": "approve", "version": "0"}),
        ("/admin/users", {"action": "add", "email": "x@example.com", "role": "admin"}),
    ):
        refused = client.post(path, data={**data, "csrf_token": "guess"})
        assert refused.status_code == 303 and refused.headers["location"].startswith("/admin/login")
    forged = https_client(app)
    forged.cookies.set("newsletter_admin", "not-a-session", path="/admin")
    assert forged.get(f"/admin/issues/{period}").status_code == 303
    assert actions(app, period) == [] and status(app, period) is None
    assert len(list_accounts(app)) == 2


def test_a_request_without_the_csrf_token_changes_nothing(with_items: tuple[App, str]) -> None:
    app, period = with_items
    client = https_client(app)
    # The sign-in form itself: without its token no session starts.
    client.get("/admin/login")
    no_token = client.post("/admin/login", data={"email": EDITOR, "password": PASSWORD})
    assert no_token.status_code == 403
    assert "newsletter_admin" not in no_token.headers.get("set-cookie", "")
    assert sign_in(client).status_code == 303
    page = client.get(f"/admin/issues/{period}").text
    item = first_item_id(page)
    version = VERSION.search(page).group(1)  # type: ignore[union-attr]
    for token in (None, "", "wrong-token"):
        data = {"action": "drop", "version": version}
        if token is not None:
            data["csrf_token"] = token
        refused = client.post(f"/admin/issues/{period}/items/{item}", data=data)
        assert refused.status_code == 403 and "reload the page" in refused.text
        refused = client.post(f"/admin/issues/{period}/status", data={**data, "action": "approve"})
        assert refused.status_code == 403
    other = https_client(app)  # another editor's valid token is not this session's
    sign_in(other, ADMIN, PASSWORD + "!")
    foreign = csrf_of(other.get(f"/admin/issues/{period}").text)
    refused = client.post(
        f"/admin/issues/{period}/items/{item}",
        data={"action": "drop", "version": version, "csrf_token": foreign},
    )
    assert refused.status_code == 403
    assert actions(app, period) == [] and status(app, period) == "draft"


def test_drop_restore_approve_unapprove_are_logged_under_the_account(
    with_items: tuple[App, str],
) -> None:
    app, period = with_items
    client = https_client(app)
    sign_in(client)
    page = client.get(f"/admin/issues/{period}").text
    item = first_item_id(page)
    token, version = csrf_of(page), VERSION.search(page).group(1)  # type: ignore[union-attr]

    def post(path: str, **data: str) -> Any:
        return client.post(path, data={"csrf_token": token, **data})

    dropped = post(f"/admin/issues/{period}/items/{item}", action="drop", version=version)
    assert dropped.status_code == 303
    page = client.get(dropped.headers["location"]).text
    assert "Dropped item" in page and f'id="left-{item}"' in page
    assert f'id="item-{item}"' not in page

    # The same (now stale) page's form is refused, never applied on top.
    stale = post(f"/admin/issues/{period}/items/{item}", action="restore", version=version)
    assert stale.status_code == 409 and "changed while you were looking" in unescape(stale.text)
    assert actions(app, period) == [("drop", item, EDITOR)]

    version = VERSION.search(page).group(1)  # type: ignore[union-attr]
    restored = post(f"/admin/issues/{period}/items/{item}", action="restore", version=version)
    assert restored.status_code == 303
    page = client.get(restored.headers["location"]).text
    assert f'id="item-{item}"' in page
    # A restored item is kept like a pin but is not one: no "Pinned" mark, no Unpin button.
    assert 'value="unpin" class="small secondary" aria-label="Unpin' not in page

    # Restore again (a second click): nothing is logged, and the page says so.
    version = VERSION.search(page).group(1)  # type: ignore[union-attr]
    again = post(f"/admin/issues/{period}/items/{item}", action="restore", version=version)
    assert again.status_code == 303 and "done=unchanged" in again.headers["location"]
    page = client.get(again.headers["location"]).text
    assert f"Nothing changed: that was already done to item {item}." in page

    version = VERSION.search(page).group(1)  # type: ignore[union-attr]
    approved = post(f"/admin/issues/{period}/status", action="approve", version=version)
    assert approved.status_code == 303 and status(app, period) == "approved"
    page = client.get(approved.headers["location"]).text
    assert "Return to draft" in page and 'value="drop"' not in page  # frozen: no item buttons
    version = VERSION.search(page).group(1)  # type: ignore[union-attr]
    # An item change on an approved issue is refused and says what to do.
    refused = post(f"/admin/issues/{period}/items/{item}", action="drop", version=version)
    assert refused.status_code == 400 and "unapprove" in unescape(refused.text)
    back = post(f"/admin/issues/{period}/status", action="unapprove", version=version)
    assert back.status_code == 303 and status(app, period) == "draft"
    assert actions(app, period) == [
        ("drop", item, EDITOR),
        ("restore", item, EDITOR),
        ("approve", None, EDITOR),
        ("unapprove", None, EDITOR),
    ]
    page = client.get(f"/admin/issues/{period}").text
    assert EDITOR in page  # the change log names the account


def test_move_and_pin_into_another_section(with_items: tuple[App, str]) -> None:
    app, period = with_items
    client = https_client(app)
    sign_in(client)
    page = client.get(f"/admin/issues/{period}").text
    item = first_item_id(page)
    token, version = csrf_of(page), VERSION.search(page).group(1)  # type: ignore[union-attr]
    moved = client.post(
        f"/admin/issues/{period}/items/{item}",
        data={"csrf_token": token, "version": version, "action": "move", "section": "reports"},
    )
    assert moved.status_code == 303
    page = client.get(f"/admin/issues/{period}").text
    reports = page.split('id="section-reports"', 1)[1].split("<h3", 1)[0]
    assert f'id="item-{item}"' in reports
    wrong = client.post(
        f"/admin/issues/{period}/items/{item}",
        data={
            "csrf_token": token,
            "version": VERSION.search(page).group(1),  # type: ignore[union-attr]
            "action": "move",
            "section": "nowhere",
        },
    )
    assert wrong.status_code == 400 and "no section" in unescape(wrong.text)


def test_an_editor_cannot_manage_accounts(no_items: tuple[App, str]) -> None:
    app, _ = no_items
    editor = https_client(app)
    sign_in(editor)
    assert editor.get("/admin/users").status_code == 403
    token = csrf_of(editor.get(f"/admin/issues/{resolve_period(app).label}").text)
    for data in (
        {"action": "add", "email": "new@example.com", "role": "admin", "password": "x" * 12},
        {"action": "remove", "email": ADMIN},
    ):
        refused = editor.post("/admin/users", data={**data, "csrf_token": token})
        assert refused.status_code == 403 and "only admins" in refused.text
    assert {a.email for a in list_accounts(app)} == {EDITOR, ADMIN}

    admin = https_client(app)
    sign_in(admin, ADMIN, PASSWORD + "!")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and EDITOR in page.text
    admin_token = csrf_of(page.text)
    added = admin.post(
        "/admin/users",
        data={
            "csrf_token": admin_token,
            "action": "add",
            "email": "New.Editor@Example.com",
            "role": "editor",
            "password": "a long enough one",
        },
    )
    assert added.status_code == 303
    short = admin.post(
        "/admin/users",
        data={
            "csrf_token": admin_token,
            "action": "add",
            "email": "b@example.com",
            "role": "editor",
            "password": "short",
        },
    )
    assert short.status_code == 400 and "at least 10 characters" in short.text
    removed = admin.post(
        "/admin/users", data={"csrf_token": admin_token, "action": "remove", "email": EDITOR}
    )
    assert removed.status_code == 303
    assert {a.email for a in list_accounts(app)} == {ADMIN, "new.editor@example.com"}
    # The removed editor's session ends with the account.
    assert editor.get("/admin").status_code == 303
    assert editor.get("/admin").headers["location"].startswith("/admin/login")


def test_the_sign_in_limit_holds(no_items: tuple[App, str]) -> None:
    app, _ = no_items
    client = https_client(app)
    for _ in range(10):
        wrong = sign_in(client, EDITOR, "wrong password!")
        assert wrong.status_code == 401 and "do not match" in wrong.text
    limited = sign_in(client, EDITOR, PASSWORD)  # the right password, too late
    assert limited.status_code == 429 and "Too many sign-in attempts" in limited.text
    assert "newsletter_admin" not in limited.headers.get("set-cookie", "")
    # Per client address as well: many accounts from one address.
    for n in range(19):
        sign_in(client, f"nobody{n}@example.com", "whatever password")
    assert sign_in(client, ADMIN, PASSWORD + "!").status_code == 429


@pytest.mark.real_hashing
def test_passwords_are_never_stored_or_logged_in_clear(
    no_items: tuple[App, str], caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = no_items
    caplog.set_level(logging.DEBUG)
    client = https_client(app)
    sign_in(client, EDITOR, "a wrong password here")
    assert sign_in(client).status_code == 303
    with app.engine.connect() as conn:
        dump = [
            str(row)
            for table in ("account", "admin_session")
            for row in conn.execute(sa.text(f"SELECT * FROM {table}"))
        ]
        hashes = [row[0] for row in conn.execute(sa.text("SELECT password_hash FROM account"))]
    assert hashes and all(h.startswith("$argon2id$v=19$m=65536,t=3,p=4$") for h in hashes)
    everything = "\n".join(dump) + caplog.text
    for secret in (PASSWORD, "a wrong password here"):
        assert secret not in everything
    token = client.cookies.get("newsletter_admin")
    assert token and token not in "\n".join(dump)  # sessions are stored as hashes


def test_sign_out_ends_the_session(no_items: tuple[App, str]) -> None:
    app, period = no_items
    client = https_client(app)
    sign_in(client)
    token = client.cookies.get("newsletter_admin")
    page = client.get(f"/admin/issues/{period}").text
    out = client.post("/admin/logout", data={"csrf_token": csrf_of(page)})
    assert out.status_code == 303 and out.headers["location"].startswith("/admin/login")
    replay = https_client(app)
    replay.cookies.set("newsletter_admin", token or "", path="/admin")
    assert replay.get(f"/admin/issues/{period}").status_code == 303


def test_feeds_opml_export(make_app: Any) -> None:
    app = web_app(make_app)
    add_account(app, EDITOR, "editor", PASSWORD)
    client = https_client(app)
    sign_in(client)
    response = client.get("/admin/feeds.opml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/x-opml")
    feeds = read_opml(response.content)
    assert [(f.title, f.url) for f in feeds] == [(f["name"], f["url"]) for f in FEEDS]


def _item_in(page: str, title_start: str) -> int:
    match = re.search(
        r'<li class="item" id="item-(\d+)">\s*<p class="item-title">(?:<span class="pin">Pinned</span> )?'
        r"(?:<a [^>]*>)?" + re.escape(title_start),
        page,
    )
    assert match, f"no item {title_start!r} on the page"
    return int(match.group(1))


def test_edit_and_facts_forms_name_the_field_and_apply_nothing_when_wrong(
    with_items: tuple[App, str],
) -> None:
    app, period = with_items
    client = https_client(app)
    sign_in(client)
    page = client.get(f"/admin/issues/{period}").text
    acme = _item_in(page, "Acme Health")
    token, version = csrf_of(page), VERSION.search(page).group(1)  # type: ignore[union-attr]
    path = f"/admin/issues/{period}/items/{acme}"
    for field, value, message in (
        ("amount", "a lot", "amount: cannot read 'a lot' as an amount"),
        ("round", "Series Z", "round: unknown round 'Series Z'"),
        ("event_date", "soon", "event_date: cannot read 'soon' as a date"),
    ):
        data = {"csrf_token": token, "version": version, "action": "facts", "currency": "USD"}
        refused = client.post(path, data={**data, field: value})
        assert refused.status_code == 400, field
        text = unescape(refused.text)
        assert message in text
        # The form is shown again, open, with what was typed (a financing item has no event
        # fields to show it in).
        if field != "event_date":
            assert f'value="{value}"' in text
        assert re.search(
            r'<details class="edit" open>\s*<summary>Edit for this issue', refused.text
        )
    assert actions(app, period) == []

    edited = client.post(
        path,
        data={
            "csrf_token": token,
            "version": version,
            "action": "edit",
            "title": "Acme <b>Health</b> raises more",
            "summary": "",
            "blurb": "Our note",
        },
    )
    assert edited.status_code == 303
    page = client.get(edited.headers["location"]).text
    assert "Saved the text of item" in page
    assert "Acme &lt;b&gt;Health&lt;/b&gt; raises more" in page and "<b>Health</b>" not in page
    version = VERSION.search(page).group(1)  # type: ignore[union-attr]
    facts = client.post(
        path,
        data={
            "csrf_token": token,
            "version": version,
            "action": "facts",
            "amount": "31.5M",
            "currency": "usd",
            "investors": "Beacon Capital, North Fund",
        },
    )
    assert facts.status_code == 303
    page = client.get(facts.headers["location"]).text
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    assert "USD 31.5M" in srcdoc and "Beacon Capital, North Fund" in srcdoc
    assert "Our note" in srcdoc and "Acme &lt;b&gt;Health&lt;/b&gt; raises more" in srcdoc
    assert 'value="31.5M"' in page and 'value="USD"' in page  # the form shows what is kept
    assert [a[0] for a in actions(app, period)] == ["edit", "facts"]
    assert "amount: USD 31.5M; lead investors: Beacon Capital, North Fund" in unescape(page)


def test_reorder_buttons_move_an_item_within_its_section(with_items: tuple[App, str]) -> None:
    app, period = with_items
    client = https_client(app)
    sign_in(client)
    page = client.get(f"/admin/issues/{period}").text
    financing = page.split('id="section-financing"', 1)[1].split("<h3", 1)[0]
    before = [int(i) for i in re.findall(r'<li class="item" id="item-(\d+)">', financing)]
    assert len(before) >= 2
    assert 'aria-label="Move up: ' in financing and "↓ Down" in financing
    token, version = csrf_of(page), VERSION.search(page).group(1)  # type: ignore[union-attr]
    down = client.post(
        f"/admin/issues/{period}/items/{before[0]}",
        data={"csrf_token": token, "version": version, "action": "down"},
    )
    assert down.status_code == 303
    page = client.get(down.headers["location"]).text
    financing = page.split('id="section-financing"', 1)[1].split("<h3", 1)[0]
    after = [int(i) for i in re.findall(r'<li class="item" id="item-(\d+)">', financing)]
    assert after[:2] == [before[1], before[0]]
    assert actions(app, period) == [("down", before[0], EDITOR)]
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    view = draft_view(app, resolve_period(app, week=period))
    (section,) = [s for s in view.content.sections if s.id == "financing"]
    assert [i.id for i in section.items][:2] == after[:2]
    companies = [i.facts["financing"]["company"] for i in section.items[:2]]
    # The financing table of the email follows the new order.
    assert srcdoc.index(companies[0]) < srcdoc.index(companies[1])


def test_viewpoint_written_on_the_page_with_preview(with_items: tuple[App, str]) -> None:
    app, period = with_items
    client = https_client(app)
    sign_in(client)
    page = client.get(f"/admin/issues/{period}")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/admin/workbench.js" defer></script>' in page.text
    assert client.get("/admin/workbench.js").status_code == 200
    token, version = csrf_of(page.text), VERSION.search(page.text).group(1)  # type: ignore[union-attr]
    text = "A **fine** week. <img src=x onerror=alert(1)> [site](javascript:alert(1))"
    live = client.post(
        f"/admin/issues/{period}/viewpoint/preview", data={"csrf_token": token, "viewpoint": text}
    )
    assert live.status_code == 200 and "<strong>fine</strong>" in live.text
    assert "<img" not in live.text and 'href="javascript' not in live.text  # shown as text
    assert (
        client.post(
            f"/admin/issues/{period}/viewpoint/preview", data={"viewpoint": text}
        ).status_code
        == 403
    )
    # Without script: the Preview button shows it and keeps the text, saving nothing.
    shown = client.post(
        f"/admin/issues/{period}/viewpoint",
        data={"csrf_token": token, "version": version, "action": "preview", "viewpoint": text},
    )
    assert shown.status_code == 200 and "it is not saved yet" in shown.text
    assert "<strong>fine</strong>" in shown.text and actions(app, period) == []
    saved = client.post(
        f"/admin/issues/{period}/viewpoint",
        data={"csrf_token": token, "version": version, "action": "save", "viewpoint": text},
    )
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    srcdoc = unescape(re.search(r'srcdoc="([^"]*)"', page.text).group(1))  # type: ignore[union-attr]
    assert "<strong>fine</strong>" in srcdoc and "<img src=x" not in srcdoc
    assert "Written here; it is used instead of any file" in page.text
    assert actions(app, period) == [("viewpoint", None, EDITOR)]


def test_test_copy_without_recipients_says_where_to_list_them(
    with_items: tuple[App, str],
) -> None:
    app, period = with_items
    client = https_client(app)
    sign_in(client)
    page = client.get(f"/admin/issues/{period}").text
    assert "newsletter.test_recipients" in page
    token, version = csrf_of(page), VERSION.search(page).group(1)  # type: ignore[union-attr]
    refused = client.post(
        f"/admin/issues/{period}/test-copy", data={"csrf_token": token, "version": version}
    )
    assert refused.status_code == 400 and "no test recipients" in unescape(refused.text)
