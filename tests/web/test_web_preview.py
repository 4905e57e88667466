"""The editors' preview and issue statistics behind the preview secret, and `newsletter
preview-url`, over the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from click.testing import CliRunner
from sqlmodel import select

from newsletter.cli import main
from newsletter.demo.server import FeedServer
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.preview import preview_token
from newsletter.storage.db import session_scope
from newsletter.storage.models import Click, Delivery, Item
from tests.helpers import serve_stories
from tests.web_helpers import FEEDS, add_issue, add_link, add_row, client_for, web_app


def test_preview_needs_the_secret(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    token = preview_token(app)
    assert token == hmac.new(b"test-secret", b"preview", hashlib.sha256).hexdigest()[:32]

    missing = client.get("/preview")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert "preview-url" in missing.text
    for wrong in (client.get("/preview?token=nope"), client.get(f"/preview?token={token}x")):
        assert wrong.status_code == 403 and "set-cookie" not in wrong.headers
    bearer_wrong = client.get("/preview", headers={"Authorization": "Bearer nope"})
    assert bearer_wrong.status_code == 403
    wrong_cookie = client_for(app)
    wrong_cookie.cookies.set("newsletter_preview", "nope")
    assert wrong_cookie.get("/preview").status_code == 403
    assert client.get("/preview/issues/2026-W46").status_code == 401

    bearer = client.get("/preview", headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and "set-cookie" not in bearer.headers
    by_query = client.get(f"/preview?token={token}")
    assert by_query.status_code == 200
    cookie = by_query.headers["set-cookie"]
    assert cookie.startswith(f"newsletter_preview={token};")
    for attribute in ("HttpOnly", "Path=/preview", "SameSite=strict", "Secure"):
        assert attribute.lower() in cookie.lower()
    assert token not in by_query.text  # the secret is not written into the page
    # The cookie alone lets the editor go on to the statistics pages.
    fresh = client_for(app)
    fresh.cookies.set("newsletter_preview", token)
    assert fresh.get("/preview").status_code == 200
    assert fresh.get("/preview/issues/2026-W01").status_code == 404  # authorized, no such issue


def test_preview_token_setting_wins(make_app: Any) -> None:
    app = web_app(make_app, preview_token="editors-only-0123456789")
    client = client_for(app)
    derived = hmac.new(b"test-secret", b"preview", hashlib.sha256).hexdigest()[:32]
    assert client.get(f"/preview?token={derived}").status_code == 403
    assert client.get("/preview?token=editors-only-0123456789").status_code == 200
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["preview-url", "--config", str(app.config.path)],
        env={
            "NEWSLETTER_DATABASE_URL": app.settings.resolved_database_url,
            "NEWSLETTER_BASE_URL": "https://news.example.com",
            "NEWSLETTER_PREVIEW_TOKEN": "editors-only-0123456789",
        },
    )
    assert result.exit_code == 0, result.output
    assert result.output == "https://news.example.com/preview?token=editors-only-0123456789\n"


def test_preview_url_command_prints_the_derived_token(make_app: Any) -> None:
    app = web_app(make_app)
    result = CliRunner().invoke(
        main,
        ["preview-url", "--config", str(app.config.path)],
        env={
            "NEWSLETTER_DATABASE_URL": app.settings.resolved_database_url,
            "NEWSLETTER_BASE_URL": "https://news.example.com",
            "NEWSLETTER_SECRET_KEY": "test-secret",
            "NEWSLETTER_PREVIEW_TOKEN": "",
        },
    )
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url == f"https://news.example.com/preview?token={preview_token(app)}"
    assert client_for(app).get(url.removeprefix("https://news.example.com")).status_code == 200


def test_preview_shows_the_next_issue_thin_sections_and_failing_feeds(
    make_app: Any, feed_server: FeedServer
) -> None:
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC))
    feeds = [serve_stories(feed_server, period.end), FEEDS[0]]  # the second one is down
    app = make_app(feeds=feeds)
    ingest(app)
    add_issue(app, "2026-W40", subject="Old issue")
    client = client_for(app)
    page = client.get("/preview", headers={"Authorization": f"Bearer {preview_token(app)}"})
    assert page.status_code == 200
    text = page.text
    assert f"Preview: {period.label}" in text
    # The HTML part in a sandboxed frame (escaped into srcdoc), the text part in <pre>.
    frame = re.search(
        r'<iframe class="frame" title="The issue as sent" sandbox srcdoc="([^"]*)"', text
    )
    assert frame is not None
    srcdoc = unescape(frame.group(1))
    assert srcdoc.startswith("<!DOCTYPE html>") and "Acme Health raises $25M" in srcdoc
    assert "preview@example.com" in srcdoc and "%%" not in srcdoc
    assert (
        '<pre class="text">' in text
        and "Acme Health raises $25M" in text.split('<pre class="text">')[1]
    )
    # Sections: counts, and which are thin or empty.
    rows = re.findall(r'<tr><td>([^<]*)</td><td class="num">(\d+)</td>', text)
    # The stories are spread over the 8 hours before now: early in the week some of them are
    # still in the previous issue's window, so count the financing ones in this one.
    with session_scope(app.engine) as session:
        financing = [
            item
            for item in session.exec(select(Item)).all()
            if item.section == "financing" and item.published >= period.start
        ]
    assert financing
    assert len(rows) == 6 and ("Financing events 投融资", str(len(financing))) in rows
    assert text.count("thin (fewer than 2)") == sum(1 for _, n in rows if n == "1")
    # Feeds: the one that is down is listed with its error.
    assert "1 of 2 feeds need attention" in text
    assert "<td>English</td><td>error</td>" in text
    # Recent issues link to their statistics.
    assert 'href="/preview/issues/2026-W40"' in text
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "frame-ancestors 'none'" in csp


def test_issue_statistics_page(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    auth = {"Authorization": f"Bearer {preview_token(app)}"}
    sent_at = datetime.now(UTC) - timedelta(days=10)
    stories = [
        {"id": 1, "title": "Story A", "url": "https://example.com/a"},
        {"id": 2, "title": "Story <B>", "url": "https://example.com/b?x=1&y=2"},
    ]
    content = {"item_count": 2, "sections": [{"id": "headlines", "items": stories}]}
    issue = add_issue(app, "2026-W45", sent_at=sent_at, content=content)
    later = add_issue(app, "2026-W46", sent_at=sent_at + timedelta(days=7))
    assert issue.id is not None and later.id is not None
    statuses = ["sent", "sent", "sent", "failed", "bounced", "skipped", "queued"]
    rows = [add_row(app, f"r{n}@example.com", "active") for n in range(len(statuses))]
    # Unsubscribed after W45 went out (2), after W46 (1, not counted for W45), before (1).
    add_row(app, "u1@example.com", "unsubscribed", unsubscribed_at=sent_at + timedelta(hours=2))
    add_row(app, "u2@example.com", "unsubscribed", unsubscribed_at=sent_at + timedelta(days=3))
    add_row(app, "u3@example.com", "unsubscribed", unsubscribed_at=sent_at + timedelta(days=8))
    add_row(app, "u4@example.com", "unsubscribed", unsubscribed_at=sent_at - timedelta(days=1))
    first = add_link(app, issue.id, "https://example.com/a", "linka")
    add_link(app, issue.id, "https://example.com/b?x=1&y=2", "linkb")
    with session_scope(app.engine) as session:
        for row, status in zip(rows, statuses, strict=True):
            assert row.id is not None
            session.add(Delivery(issue_id=issue.id, subscriber_id=row.id, status=status))
        # Clicks on two days.
        assert first.id is not None
        for days in (0, 1, 1):
            session.add(
                Click(
                    link_id=first.id, issue_id=issue.id, created_at=sent_at + timedelta(days=days)
                )
            )
    for _ in range(3):
        assert client.get("/c/linkb").status_code == 302

    page = client.get("/preview/issues/2026-W45", headers=auth)
    assert page.status_code == 200
    cells = re.findall(r'<td class="num">(\d+)</td>', page.text)
    assert cells[:6] == ["3", "1", "1", "1", "1", "2"]  # sent failed bounced skipped queued, unsubs
    assert "3 clicks on 2 links" in page.text  # Link.clicks: the counter (3 on b, 0 on a)
    # Links are named by their story's title (escaped), never shown as raw URLs.
    assert "Story &lt;B&gt;" in page.text and "Story A" in page.text
    assert "example.com/b" not in page.text
    svg = page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert svg.count("<rect ") == 3  # clicks per day: the two days of a, and today for b
    assert "<script" not in svg
    other = client.get("/preview/issues/2026-W46", headers=auth)
    assert other.status_code == 200 and "0 clicks on 0 links" in other.text
    for missing in ("2026-W01", "W46", "2026-W46x"):
        assert client.get(f"/preview/issues/{missing}", headers=auth).status_code == 404
