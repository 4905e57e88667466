"""Web writes when the database cannot take them, on SQLite and PostgreSQL: another writer
holds the lock past the wait, or the database is read-only (what a full disk looks like to a
writer: reads work, every write fails). Unsubscribe and subscribe answer 503 with Retry-After
and change nothing (a mail provider retries the one-click POST), the click redirect still
redirects and counts later, /healthz says the database is not writable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import func, select

from newsletter.service.app import App
from newsletter.service.clicks import ClickCounter
from newsletter.storage.db import make_engine, session_scope
from newsletter.storage.models import Click, Link, Subscriber
from newsletter.storage.queries.links import ClickRecord
from newsletter.web import create_app
from newsletter.web.app import UNAVAILABLE_MESSAGE
from tests.db_faults import read_only_engine, writes_held
from tests.web_helpers import TestClient, add_issue, add_link, add_row, outbox, snapshot, web_app

ONE_CLICK = {"List-Unsubscribe": "One-Click"}
WAIT = 0.3  # seconds the app waits for a lock in these tests (10 s in service)


@pytest.fixture
def setup(make_app: Any, database_url: str) -> Iterator[tuple[App, App]]:
    """(app, impatient): the same database; the second waits WAIT seconds for a lock."""
    app = web_app(make_app)
    impatient = App(app.settings, app.config, make_engine(database_url, lock_wait=WAIT))
    yield app, impatient
    impatient.engine.dispose()


def _link_counts(app: App, token: str) -> tuple[int, int]:
    with session_scope(app.engine) as session:
        link = session.exec(select(Link).where(Link.token == token)).one()
        rows = session.exec(select(Click).where(Click.link_id == link.id)).all()
        return link.clicks, len(rows)


def _unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"] == "30"
    assert "Traceback" not in response.text and "locked" not in response.text


def test_unsubscribe_while_locked_is_a_503_that_changes_nothing_and_a_retry_works(
    setup: tuple[App, App], database_url: str
) -> None:
    app, impatient = setup
    reader = add_row(app, "reader@example.com", "active")
    before = snapshot(app, reader.email)
    client = TestClient(create_app(impatient), raise_server_exceptions=False)
    with writes_held(database_url):
        _unavailable(client.post(f"/unsubscribe/{reader.token}", data=ONE_CLICK))
        # The page that shows the button only reads: it still works.
        assert client.get(f"/unsubscribe/{reader.token}").status_code == 200
    assert snapshot(app, reader.email) == before
    # The provider's retry, once the lock is gone.
    response = client.post(f"/unsubscribe/{reader.token}", data=ONE_CLICK)
    assert response.status_code == 200
    assert snapshot(app, reader.email)["status"] == "unsubscribed"


def test_subscribe_while_locked_is_a_503_that_stores_and_sends_nothing(
    setup: tuple[App, App], database_url: str
) -> None:
    app, impatient = setup
    client = TestClient(create_app(impatient), raise_server_exceptions=False)
    with writes_held(database_url):
        _unavailable(client.post("/subscribe", data={"email": "new@example.com"}))
        api = client.post("/api/subscribers", json={"email": "api@example.com"})
        _unavailable(api)
        assert api.json() == {"error": UNAVAILABLE_MESSAGE}
    with session_scope(app.engine) as session:
        assert session.exec(select(func.count()).select_from(Subscriber)).one() == 0
    assert outbox(app) == []
    assert client.post("/subscribe", data={"email": "new@example.com"}).status_code == 200
    assert len(outbox(app)) == 1


def test_click_redirects_while_locked_and_the_count_is_written_later(
    setup: tuple[App, App], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, impatient = setup
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    link = add_link(app, issue.id, "https://example.com/story", "storytoken1")
    web = create_app(impatient)
    client = TestClient(web, follow_redirects=False)
    counter: ClickCounter = web.state.web.clicks
    caplog.set_level(logging.INFO, logger="newsletter")
    with writes_held(database_url):
        response = client.get(f"/c/{link.token}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/story"
        assert counter.queued == 1
    assert _link_counts(app, link.token) == (0, 0)
    assert "click counts queued, not written" in caplog.text
    # The next click writes both.
    assert client.get(f"/c/{link.token}").status_code == 302
    assert counter.queued == 0
    assert _link_counts(app, link.token) == (2, 2)
    assert "click counts written again (2 were queued)" in caplog.text


def test_healthz_says_not_writable_while_locked(setup: tuple[App, App], database_url: str) -> None:
    _, impatient = setup
    client = TestClient(create_app(impatient))
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    with writes_held(database_url):
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "error", "database": "not writable"}
    assert client.get("/healthz").status_code == 200


def test_a_read_only_database_answers_503_to_writes_and_still_redirects(
    setup: tuple[App, App], database_url: str
) -> None:
    app, _ = setup
    reader = add_row(app, "reader@example.com", "active")
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    link = add_link(app, issue.id, "https://example.com/story", "storytoken1")
    read_only = App(app.settings, app.config, read_only_engine(database_url))
    web = create_app(read_only)
    client = TestClient(web, follow_redirects=False, raise_server_exceptions=False)
    try:
        _unavailable(client.post(f"/unsubscribe/{reader.token}", data=ONE_CLICK))
        _unavailable(client.post("/subscribe", data={"email": "new@example.com"}))
        _unavailable(client.post(f"/preferences/{reader.token}", data={"sections": "headlines"}))
        response = client.get(f"/c/{link.token}")
        assert response.status_code == 302
        assert response.headers["location"] == "https://example.com/story"
        assert web.state.web.clicks.queued == 1
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["database"] == "not writable"
        assert client.get("/archive").status_code == 200
    finally:
        read_only.engine.dispose()
    assert snapshot(app, reader.email)["status"] == "active"


def test_the_click_queue_is_bounded_and_says_what_it_dropped(
    setup: tuple[App, App], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = setup
    issue = add_issue(app, "2026-W46")
    assert issue.id is not None
    link = add_link(app, issue.id, "https://example.com/story", "storytoken1")
    assert link.id is not None
    engine = read_only_engine(database_url)
    counter = ClickCounter(engine, max_queued=3)
    now = datetime.now(UTC)
    with caplog.at_level(logging.WARNING, logger="newsletter"):
        for _ in range(5):
            counter.add(ClickRecord(link.id, issue.id, None, now))
        assert counter.flush() is False
        counter.close()
    engine.dispose()
    assert counter.queued == 3 and counter.dropped == 2
    assert "2 queued clicks dropped" in caplog.text or "1 queued clicks dropped" in caplog.text
    assert "3 queued clicks not written before stopping" in caplog.text
    assert _link_counts(app, link.token) == (0, 0)
