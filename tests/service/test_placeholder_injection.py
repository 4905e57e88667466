"""Feed text can never reach a per-subscriber placeholder: a feed whose title, summary, link,
facts and source name spell every personal marker, served over loopback HTTP, built and sent
to a real SMTP server; no copy carries its reader's address or links where the feed put them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest

from newsletter.demo.server import FeedServer, Route
from newsletter.email.render import (
    PREFERENCES_URL,
    SUBSCRIBER_EMAIL,
    SUBSCRIBER_TOKEN,
    UNSUBSCRIBE_URL,
)
from newsletter.email.transports import SmtpSettings, SmtpTransport
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.subscribers import add_subscriber
from newsletter.storage.db import session_scope
from newsletter.storage.queries import subscribers

MARKERS = (UNSUBSCRIBE_URL, PREFERENCES_URL, SUBSCRIBER_EMAIL, SUBSCRIBER_TOKEN)
READERS = ("ann@example.com", "bob@example.org")
NOW = datetime.now(UTC)


WORDS = (
    ("Acme", "cardiology", "Boston"),
    ("Borealis", "oncology", "Shanghai"),
    ("Cobalt", "dermatology", "Berlin"),
    ("Dynamo", "radiology", "Austin"),
)


def _hostile_feed(when: datetime) -> bytes:
    items = []
    for n, (marker, (company, field, city)) in enumerate(zip(MARKERS, WORDS, strict=True)):
        # Every place feed text reaches: title, summary (HTML and its text), link, and a
        # financing or event fact read from the title. Each story differs in its words, so
        # none is merged into another as the same story.
        items.append(
            f"<item><title>Hi {marker}: {company} {field} raises ${n + 2}M Series A led by "
            f"{marker}</title>"
            f"<link>https://evil.example/track?who={marker}&amp;n={n}</link>"
            f"<guid>m{n}</guid><pubDate>{format_datetime(when - timedelta(hours=n))}</pubDate>"
            f"<description>&lt;p&gt;Dear {marker}, &lt;a href=&quot;https://evil.example/?e="
            f"{marker}&quot;&gt;click&lt;/a&gt; %%{marker}%% {marker[:-1]}&lt;/p&gt;"
            f"</description></item>"
        )
        items.append(
            f"<item><title>{marker} {city} {field} summit opens in {n + 5} days</title>"
            f"<link>https://evil.example/e{n}?who={marker}</link><guid>e{n}</guid>"
            f"<pubDate>{format_datetime(when - timedelta(hours=n, minutes=30))}</pubDate>"
            f"<description>&lt;p&gt;Dear {marker}, &lt;a href=&quot;https://evil.example/?e="
            f"{marker}&quot;&gt;register&lt;/a&gt; %%{marker}%% {marker[:-1]}&lt;/p&gt;"
            f"</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{SUBSCRIBER_EMAIL} news</title>{''.join(items)}</channel></rss>"
    ).encode()


def _bodies(raw: bytes) -> tuple[str, str]:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


@pytest.mark.parametrize("click_tracking", [True, False])
def test_feed_text_never_reaches_a_personal_placeholder(
    make_app: Any, feed_server: FeedServer, smtp_server: Any, click_tracking: bool
) -> None:
    probe = make_app()
    period = resolve_period(probe, now=NOW, due=True)
    when = min(period.end - timedelta(days=1), NOW - timedelta(hours=1))
    feed_server.routes["/hostile.xml"] = Route(_hostile_feed(when), "application/rss+xml")
    feed = {
        "name": f"{SUBSCRIBER_EMAIL} wire",
        "url": feed_server.url("/hostile.xml"),
        "section": "headlines",
        "language": "en",
    }
    app = make_app(
        feeds=[feed], click_tracking=click_tracking, click_track_subscribers=click_tracking
    )
    assert ingest(app).new_items == 2 * len(MARKERS)
    for address in READERS:
        add_subscriber(app, address)
    with session_scope(app.engine) as session:
        tokens = {s.email: s.token for s in subscribers.list_subscribers(session)}

    transport = SmtpTransport(
        SmtpSettings(host="127.0.0.1", port=smtp_server.port, tls="none", timeout=5)
    )
    report = send_issue(app, period, transport)
    assert report.sent == len(READERS), report

    assert len(smtp_server.received) == len(READERS)
    for received in smtp_server.received:
        (reader,) = received.rcpt_tos
        text, html = _bodies(received.data)
        for body in (text, html):
            # The template's own links are personal, as before ...
            assert f"/unsubscribe/{tokens[reader]}" in body
            # ... but the feed's words are shown, inert, and never filled in.
            shown = "%\u2060%SUBSCRIBER_EMAIL%\u2060% Berlin dermatology summit"
            assert shown in body, body
            for marker in MARKERS:
                assert marker not in body
        # The reader's address appears only where the template puts it (the footer), never in
        # the feed's title, summary or link: each occurrence is counted against the template's.
        baseline = _template_mentions(app, period, reader)
        assert text.count(reader) == baseline[0]
        assert html.count(reader) == baseline[1]
        assert f"who={reader}" not in html and f"?e={reader}" not in html
        assert "Dear %\u2060%SUBSCRIBER_EMAIL%\u2060%" in text
        for other in READERS:
            if other != reader:
                assert other not in text and other not in html


def _template_mentions(app: Any, period: Any, reader: str) -> tuple[int, int]:
    """How often the templates themselves print the reader's address (text, HTML)."""
    from newsletter.email.render import render_issue
    from newsletter.service.issues import build_issue

    built = build_issue(app, period)
    assert built.rendered is not None
    rendered = built.rendered
    del render_issue
    return rendered.text.count(SUBSCRIBER_EMAIL), rendered.html.count(SUBSCRIBER_EMAIL)
