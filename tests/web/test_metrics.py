"""`GET /metrics`: the database's numbers in the Prometheus text format, behind a token."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from newsletter.demo.server import FeedServer
from newsletter.service.ingest import ingest
from newsletter.service.metrics import (
    PROCESS_REGISTRY,
    database_metrics,
    observe_ingest,
)
from newsletter.storage.db import make_engine, session_scope
from newsletter.storage.models import Delivery
from newsletter.web.metrics import token_matches
from tests.helpers import serve_stories
from tests.web_helpers import add_issue, add_row, client_for

TOKEN = "scrape-secret-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample by (name, sorted labels), parsed with prometheus_client's own parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def populated(make_app: Any, feed_server: FeedServer) -> Any:
    """Two feeds polled for real over loopback (one works, one 404s), subscribers in every
    state, and an issue whose deliveries are in every status."""
    now = datetime.now(UTC)
    good = serve_stories(feed_server, now)
    broken = {"name": "Broken", "url": feed_server.url("/missing.xml"), "section": "headlines"}
    app = make_app(feeds=[good, broken], metrics_token=TOKEN)
    ingest(app)
    people = [add_row(app, f"r{n}@example.com", "active") for n in range(7)]
    add_row(app, "gone@example.com", "unsubscribed")
    add_row(app, "bounced@example.com", "bounced")
    issue = add_issue(app, "2026-W10", status="sending")
    rows = [
        ("sent", 1, now - timedelta(seconds=30), None, None),
        ("sent", 1, now - timedelta(seconds=90), None, None),
        ("sent", 1, now - timedelta(hours=2), None, None),  # outside the 5-minute window
        ("failed", 3, None, None, None),
        ("bounced", 1, None, None, None),
        ("queued", 0, None, None, None),  # due now
        ("queued", 2, None, now + timedelta(minutes=10), None),  # deferred to a retry
    ]
    with session_scope(app.engine) as session:
        for person, (status, attempts, sent_at, next_at, _) in zip(people, rows, strict=False):
            session.add(
                Delivery(
                    issue_id=issue.id,
                    subscriber_id=person.id,
                    status=status,
                    attempts=attempts,
                    sent_at=sent_at,
                    next_attempt_at=next_at,
                )
            )
    return app


def test_metrics_parse_and_tell_the_database_state(populated: Any) -> None:
    response = client_for(populated).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(response.text)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("newsletter_database_up") == 1
    assert value("newsletter_deliveries", status="sent") == 3
    assert value("newsletter_deliveries", status="failed") == 1
    assert value("newsletter_deliveries", status="skipped") == 0  # every status is listed
    assert value("newsletter_delivery_queue_depth", state="due") == 1
    assert value("newsletter_delivery_queue_depth", state="deferred") == 1
    assert value("newsletter_delivery_queue_depth", state="claimed") == 0
    assert value("newsletter_send_rate_per_second") == pytest.approx(2 / 300)
    assert value("newsletter_delivery_errors", kind="failed") == 1
    assert value("newsletter_delivery_errors", kind="bounced") == 1
    assert value("newsletter_delivery_errors", kind="retried") == 2  # attempts 3 and 2
    assert value("newsletter_bounces") == 1
    assert value("newsletter_subscribers", status="active") == 7
    assert value("newsletter_subscribers", status="unsubscribed") == 1
    assert value("newsletter_subscribers", status="bounced") == 1
    assert value("newsletter_issues", status="sending") == 1
    assert value("newsletter_feed_up", feed="Stories") == 1
    assert value("newsletter_feed_up", feed="Broken") == 0
    assert value("newsletter_feed_consecutive_failures", feed="Broken") == 1
    assert math.isnan(value("newsletter_feed_last_success_timestamp_seconds", feed="Broken"))
    last_success = value("newsletter_feed_last_success_timestamp_seconds", feed="Stories")
    assert abs(last_success - datetime.now(UTC).timestamp()) < 600
    assert value("newsletter_feeds", status="ok", enabled="true") == 1
    assert value("newsletter_feeds", status="error", enabled="true") == 1
    last_sent = value("newsletter_last_sent_timestamp_seconds")
    assert abs(last_sent - datetime.now(UTC).timestamp()) < 600


def test_metrics_need_the_token(make_app: Any) -> None:
    closed = client_for(make_app())
    off = closed.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert off.status_code == 404
    assert "NEWSLETTER_METRICS_TOKEN" in off.json()["error"]
    client = client_for(make_app(metrics_token=TOKEN))
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 403
    ok = client.get("/metrics", headers={"Authorization": f"bearer  {TOKEN}"})
    assert ok.status_code == 200 and "newsletter_database_up 1.0" in ok.text


def test_token_comparison() -> None:
    assert token_matches("abc", "Bearer abc")
    assert not token_matches("abc", "Bearer abcd")
    assert not token_matches("abc", None)
    assert not token_matches("abc", "abc")


def test_empty_database_gives_zeros_not_errors(make_app: Any) -> None:
    got = samples(database_metrics(make_app()).decode())
    assert got[("newsletter_database_up", ())] == 1
    assert got[("newsletter_deliveries", (("status", "queued"),))] == 0
    assert got[("newsletter_send_rate_per_second", ())] == 0
    assert math.isnan(got[("newsletter_last_sent_timestamp_seconds", ())])


def test_unreachable_database_reports_down(make_app: Any) -> None:
    """A database that does not answer is `newsletter_database_up 0`, not an error page."""
    app = make_app()
    app.engine.dispose()
    app.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    got = samples(database_metrics(app).decode())
    assert got[("newsletter_database_up", ())] == 0
    assert ("newsletter_deliveries", (("status", "sent"),)) not in got


def test_ingest_durations_in_the_process_registry() -> None:
    before = samples(generate_latest(PROCESS_REGISTRY).decode())
    count = before.get(("newsletter_ingest_duration_seconds_count", ()), 0)
    observe_ingest(3.0, feeds=6)
    after = samples(generate_latest(PROCESS_REGISTRY).decode())
    assert after[("newsletter_ingest_duration_seconds_count", ())] == count + 1
    assert after[("newsletter_ingest_feed_seconds_bucket", (("le", "0.5"),))] >= 1
