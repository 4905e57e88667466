"""Archive, Atom feed, click redirect and health over the real app, on SQLite and PostgreSQL;
and the whole path: a real issue sent, then read, clicked and unsubscribed from on the web."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import icalendar
import sqlalchemy as sa
from sqlmodel import select

from newsletter.config import Settings
from newsletter.demo.server import FeedServer
from newsletter.email.transports import FileTransport
from newsletter.service.app import App
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.subscribers import add_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.models import Click, Link, Subscriber
from tests.helpers import serve_stories
from tests.web_helpers import add_issue, add_link, add_row, client_for, eml_files, parse, web_app

ATOM = "{http://www.w3.org/2005/Atom}"
PERSONAL_HTML = (
    '<html><body><p>Hello</p><a href="https://example.com/story?a=1&amp;b=2">Story</a>'
    '<a href="%%UNSUBSCRIBE_URL%%">Unsubscribe</a> <a href="%%PREFERENCES_URL%%">Prefs</a>'
    " sent to %%SUBSCRIBER_EMAIL%% "
    '<a href="https://news.example.com/c/tok?u=%%SUBSCRIBER_TOKEN%%">tracked</a></body></html>'
)


def test_archive_index_and_pages_show_only_sent_issues(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    now = datetime.now(UTC)
    add_issue(app, "2026-W45", sent_at=now - timedelta(days=14), html=PERSONAL_HTML)
    add_issue(app, "2026-W46", sent_at=now - timedelta(days=7))
    add_issue(app, "2026-W47", status="draft", html="<p>draft secret</p>")
    add_issue(app, "2026-W44", status="sending", html="<p>sending</p>")

    index = client.get("/archive")
    assert index.status_code == 200
    periods = re.findall(r'href="/archive/(\d{4}-W\d\d)"', index.text)
    assert periods == ["2026-W46", "2026-W45"]  # newest first, only sent ones
    assert 'type="application/atom+xml"' in index.text

    page = client.get("/archive/2026-W45")
    assert page.status_code == 200
    assert "%%" not in page.text and "SUBSCRIBER" not in page.text
    assert page.text.count('href="https://news.example.com/subscribe"') == 2
    assert "sent to your address" in page.text
    assert 'href="https://example.com/story?a=1&amp;b=2"' in page.text
    assert 'href="https://news.example.com/c/tok?u="' in page.text  # anonymous click
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "style-src 'unsafe-inline'" in csp
    assert page.headers["x-frame-options"] == "DENY"

    for missing in ("2026-W47", "2026-W44", "2026-W01", "2026-W99", "latest", "2026-W4", "..%2Fx"):
        response = client.get(f"/archive/{missing}")
        assert response.status_code == 404, missing
        assert "draft secret" not in response.text


def test_atom_feed_parses_and_escapes(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    now = datetime.now(UTC)
    hostile = 'Weekly <b>&</b> "quotes" \x01 ]]> 本周'
    content = {"item_count": 2, "sections": [{"items": [{"title": "<script>x</script>"}]}]}
    add_issue(app, "2026-W45", sent_at=now - timedelta(days=14), subject=hostile, content=content)
    add_issue(app, "2026-W46", sent_at=now - timedelta(days=7))
    add_issue(app, "2026-W47", status="draft")

    response = client.get("/archive.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    assert root.findtext(f"{ATOM}id") == "https://news.example.com/archive"
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        "https://news.example.com/archive/2026-W46",
        "https://news.example.com/archive/2026-W45",
    ]
    old = entries[1]
    assert old.findtext(f"{ATOM}title") == 'Weekly <b>&</b> "quotes"  ]]> 本周'
    assert old.findtext(f"{ATOM}summary") == "2 stories: <script>x</script>"
    link = old.find(f"{ATOM}link")
    assert link is not None and link.get("href") == "https://news.example.com/archive/2026-W45"
    assert root.findtext(f"{ATOM}updated") == entries[0].findtext(f"{ATOM}updated")
    assert b"<script>" not in response.content  # escaped in the XML text


def test_empty_archive_and_atom(make_app: Any) -> None:
    client = client_for(web_app(make_app))
    assert "No issue has been sent yet" in client.get("/archive").text
    root = ET.fromstring(client.get("/archive.atom").content)
    assert root.findall(f"{ATOM}entry") == [] and root.findtext(f"{ATOM}updated")


def test_the_sites_address_leads_to_the_archive(make_app: Any) -> None:
    client = client_for(web_app(make_app))
    home = client.get("/", follow_redirects=False)
    assert (home.status_code, home.headers["location"]) == (303, "/archive")
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200 and 'href="/subscribe"' in page.text


def _clicks(app: App) -> list[Click]:
    with session_scope(app.engine) as session:
        return list(session.exec(select(Click)).all())


def _link(app: App, token: str) -> Link:
    with session_scope(app.engine) as session:
        link = session.exec(select(Link).where(Link.token == token)).one()
        return link


def test_click_redirect_counts_and_only_goes_to_stored_links(make_app: Any) -> None:
    app = web_app(make_app)
    client = client_for(app)
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    reader = add_row(app, "reader@example.com", "active")
    good = add_link(app, issue.id, "https://example.com/story?a=1&b=2", "goodtoken123")
    add_link(app, issue.id, "javascript:alert(document.cookie)", "jstoken12345")
    add_link(app, issue.id, "data:text/html,<script>alert(1)</script>", "datatoken123")

    response = client.get(f"/c/{good.token}?u={reader.token}")
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/story?a=1&b=2"
    assert response.headers["referrer-policy"] == "no-referrer"
    client.get(f"/c/{good.token}")
    assert _link(app, good.token).clicks == 2
    clicks = _clicks(app)
    assert len(clicks) == 2 and {c.subscriber_id for c in clicks} == {None}  # who: not kept
    assert {c.issue_id for c in clicks} == {issue.id}

    for bad in ("jstoken12345", "datatoken123", "unknowntoken", "x" * 40, "%2e%2e"):
        response = client.get(f"/c/{bad}?url=https://evil.example/")
        assert response.status_code == 404, bad
        assert "location" not in response.headers
    assert _link(app, "jstoken12345").clicks == 0 and len(_clicks(app)) == 2


def test_click_tracking_of_subscribers_only_when_enabled(make_app: Any) -> None:
    app = web_app(make_app, click_track_subscribers=True)
    client = client_for(app)
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    reader = add_row(app, "reader@example.com", "active")
    link = add_link(app, issue.id, "http://example.org/", "tok")
    client.get(f"/c/{link.token}?u={reader.token}")
    client.get(f"/c/{link.token}?u=" + "Z" * 22)  # no such subscriber
    client.get(f"/c/{link.token}?u=%27%3B--")
    assert sorted(c.subscriber_id or 0 for c in _clicks(app)) == [0, 0, reader.id]


def test_click_tracking_off_still_redirects_without_counting(make_app: Any) -> None:
    app = web_app(make_app, click_tracking=False)
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    link = add_link(app, issue.id, "https://example.com/", "tok")
    response = client_for(app).get(f"/c/{link.token}")
    assert response.status_code == 302 and response.headers["location"] == "https://example.com/"
    assert _link(app, "tok").clicks == 0 and _clicks(app) == []


def test_healthz(make_app: Any) -> None:
    app = web_app(make_app)
    response = client_for(app).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert client_for(app).head("/healthz").status_code == 200  # for monitors that use HEAD
    # The same app over a database that does not answer.
    down = App(
        settings=app.settings,
        config=app.config,
        engine=sa.create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"),
    )
    response = client_for(down).get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error"}


def test_a_sent_issue_on_the_web(make_app: Any, feed_server: FeedServer, tmp_path: Any) -> None:
    """Real feeds → ingest → send with the file transport; then the message's links, the
    archive page and the statistics page, all through the web app."""
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC), due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    assert ingest(app).new_items == 8
    add_subscriber(app, "reader@example.com", "Reader")
    client = client_for(app)
    client.post("/subscribe", data={"email": "pending@example.com"})  # never confirmed
    report = send_issue(app, period, FileTransport(tmp_path / "sent"))
    assert report.sent == 1, report
    (path,) = eml_files(tmp_path / "sent")  # nothing for the pending address
    msg = parse(path.read_bytes())
    html_part = msg.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert msg["To"].addresses[0].addr_spec == "reader@example.com"
    with session_scope(app.engine) as session:
        token = session.exec(
            select(Subscriber.token).where(Subscriber.email == "reader@example.com")
        ).one()

    # The email's click links redirect to the stories and are counted.
    tracked = [unescape(u) for u in re.findall(r'href="([^"]*/c/[^"]*)"', html)]
    assert tracked, "the sender rewrites story links through /c/"
    targets = set()
    for url in tracked:
        response = client.get(url.removeprefix(app.settings.base_url))
        assert response.status_code == 302
        targets.add(response.headers["location"])
    assert f"{app.settings.base_url}/archive/{period.label}" in targets
    assert "https://example.com/s0" in targets  # utm_source=x was dropped when ingested
    calendars = ("https://calendar.google.com/", "https://outlook.live.com/")
    assert all(
        t.startswith(("https://example.com/", app.settings.base_url, *calendars)) for t in targets
    )

    # "Add to calendar": each upcoming event's hosted .ics file, and the web calendars' links.
    ics = sorted(t for t in targets if re.search(r"/archive/[^/]+/events/\d+\.ics$", t))
    assert len(ics) == 2  # the two upcoming events of the week's stories
    assert sum(t.startswith(calendars[0]) for t in targets) == 2
    for url in ics:
        served = client.get(url.removeprefix(app.settings.base_url))
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/calendar")
        (event,) = icalendar.Calendar.from_ical(served.content).walk("VEVENT")
        assert str(event["summary"]) and event["dtstart"].dt >= period.end.date()
    assert msg.get_content_type() == "multipart/alternative"  # no attachment unless configured
    missing = client.get(f"/archive/{period.label}/events/999999.ics")
    assert missing.status_code == 404
    assert client.get("/archive/2026-W01/events/1.ics").status_code == 404

    # "View in browser" leads to the archive page, which holds nothing personal.
    archive = client.get(f"/archive/{period.label}")
    assert archive.status_code == 200
    assert "Acme Health raises $25M" in archive.text
    assert "reader@example.com" not in archive.text and token not in archive.text

    # Statistics: one sent, the clicks, and the unsubscribe that follows is attributed.
    list_unsubscribe = str(msg["List-Unsubscribe"]).split(">")[0].lstrip("<")
    assert len(list_unsubscribe) < 76 and "reader" not in list_unsubscribe
    assert f"{app.settings.base_url}/preferences/{token}" in html
    response = client.post(
        list_unsubscribe.removeprefix(app.settings.base_url),
        content="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    stats = client.get(
        f"/preview/issues/{period.label}", headers={"Authorization": f"Bearer {_token(app)}"}
    )
    assert stats.status_code == 200
    cells = re.findall(r'<td class="num">(\d+)</td>', stats.text)
    assert cells[:6] == ["1", "0", "0", "0", "0", "1"]  # sent … queued, then unsubscribed after
    assert f"{len(tracked)} clicks on {len(targets)} links" in stats.text
    assert "<svg" in stats.text


def _token(app: App) -> str:
    from newsletter.service.preview import preview_token

    return preview_token(app)


def test_archive_uses_settings_base_url(make_app: Any) -> None:
    app = web_app(make_app, base_url="https://letters.example.org/news")
    add_issue(app, "2026-W45", html=PERSONAL_HTML)
    page = client_for(app).get("/archive/2026-W45").text
    assert 'href="https://letters.example.org/news/subscribe"' in page
    assert isinstance(app.settings, Settings)
