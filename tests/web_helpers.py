"""Helpers for the web tests: a TestClient over the real app, the outbox, subscriber rows."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from sqlmodel import select

from newsletter.email.tokens import new_token
from newsletter.service.app import App
from newsletter.storage.db import session_scope
from newsletter.storage.models import Issue, Link, Subscriber
from newsletter.web import create_app

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its test client; httpx works and is what is installed.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient as TestClient  # re-exported for the tests

CONFIRM_LINK = re.compile(r"https?://[^\s/]+/confirm/([A-Za-z0-9_-]+)")
FEEDS = [
    {"name": "English", "url": "http://127.0.0.1:9/en.xml", "section": "headlines"},
    {"name": "中文", "url": "http://127.0.0.1:9/zh.xml", "section": "industry", "language": "zh"},
]


def web_app(make_app: Any, **overrides: Any) -> App:
    """An App with two feeds (English and Chinese) that are never fetched."""
    app: App = make_app(feeds=FEEDS, **overrides)
    return app


def client_for(app: App, **kwargs: Any) -> TestClient:
    """A TestClient over create_app(app); follows no redirects, so a 302 stays a 302."""
    return TestClient(create_app(app, **kwargs), follow_redirects=False)


def outbox(app: App) -> list[EmailMessage]:
    """Messages the file transport wrote, oldest first."""
    folder = app.settings.resolved_outbox_dir
    files = (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.is_dir() else []
    )
    return [parse(path.read_bytes()) for path in files]


def recipients(messages: list[EmailMessage]) -> list[str]:
    """The To: address of each message."""
    return [m["To"].addresses[0].addr_spec for m in messages]


def parse(data: bytes) -> EmailMessage:
    """A message parsed with the standard library."""
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def confirm_token(msg: EmailMessage) -> str:
    """The confirmation token in a confirmation email's text part (same link in the HTML)."""
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    tokens = CONFIRM_LINK.findall(text.get_content())
    assert len(set(tokens)) == 1, text.get_content()
    assert f"/confirm/{tokens[0]}" in html.get_content()
    return str(tokens[0])


def subscriber(app: App, email: str) -> Subscriber | None:
    """The subscriber row of an address, detached."""
    with session_scope(app.engine) as session:
        return session.exec(select(Subscriber).where(Subscriber.email == email)).first()


def snapshot(app: App, email: str) -> dict[str, Any]:
    """Every column of an address's row, to check that a request changed nothing."""
    row = subscriber(app, email)
    assert row is not None
    return row.model_dump()


def add_row(
    app: App, email: str, status: str, now: datetime | None = None, **values: Any
) -> Subscriber:
    """A subscriber row in any state, written directly; `now` is the test's clock."""
    now = now or datetime.now(UTC)
    row = Subscriber(email=email, status=status, token=new_token(), created_at=now, **values)
    if status == "unsubscribed":
        row.unsubscribed_at = row.unsubscribed_at or now - timedelta(days=3)
    if status == "bounced":
        row.bounced_at = now - timedelta(days=3)
        row.suppressed_reason = "550 5.1.1 no such user"
    with session_scope(app.engine) as session:
        session.add(row)
    return row


def add_issue(
    app: App,
    period: str,
    status: str = "sent",
    html: str = "<html><body><p>Issue</p></body></html>",
    sent_at: datetime | None = None,
    content: dict[str, Any] | None = None,
    subject: str | None = None,
) -> Issue:
    """An issue row in any state, written directly."""
    when = sent_at or datetime.now(UTC) - timedelta(days=1)
    issue = Issue(
        period=period,
        status=status,
        subject=subject if subject is not None else f"Test Health Weekly · {period}",
        window_start=when - timedelta(days=7),
        window_end=when,
        content=content or {"item_count": 1, "sections": [{"items": [{"title": "A story"}]}]},
        html=html,
        text="Issue",
        frozen_at=when if status in ("sending", "sent") else None,
        sent_at=when if status == "sent" else None,
    )
    with session_scope(app.engine) as session:
        session.add(issue)
    return issue


def add_link(app: App, issue_id: int, url: str, token: str | None = None) -> Link:
    """A click-redirect link of an issue, written directly (as the sender would)."""
    link = Link(issue_id=issue_id, url=url, token=token or new_token())
    with session_scope(app.engine) as session:
        session.add(link)
    return link


def eml_files(folder: Path) -> list[Path]:
    """The .eml files of a folder."""
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []
