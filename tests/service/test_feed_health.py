"""Feed health across polls: permanent redirects adopted once they repeat, 410 and repeated
failures disable a feed with the reason, Retry-After and back-off defer the next poll."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from newsletter.cli import main
from newsletter.demo.server import FeedServer, Route
from newsletter.domain.retry import MAX_RETRY_AFTER, parse_retry_after
from newsletter.service.catalog import FeedHealth, feed_health
from newsletter.service.ingest import (
    MAX_BACKOFF,
    RedirectState,
    after_failure,
    after_success,
    backoff,
    ingest,
)
from tests.helpers import rss

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
FEED = rss([("FDA approves first oral GLP-1 pill", "h1", NOW - HOUR)])


@pytest.fixture(scope="module")
def module_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def server(module_server: FeedServer) -> FeedServer:
    """One loopback server for the module (stopping one costs 0.5 s); state reset per test."""
    module_server.routes.clear()
    module_server.requests.clear()
    return module_server


def paths(server: FeedServer) -> list[str]:
    return [path for path, _ in server.requests]


def health(app: Any, name: str = "F") -> FeedHealth:
    return {row.name: row for row in feed_health(app)}[name]


def one_feed(server: FeedServer, path: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"name": "F", "url": server.url(path), "section": "headlines", **extra}]


# -- the pure decisions -------------------------------------------------------------------------


def test_backoff_doubles_from_the_second_failure_and_is_capped() -> None:
    poll = timedelta(minutes=60)
    assert backoff(1, poll) is None  # one failure: the next regular poll tries again
    assert [backoff(n, poll) for n in (2, 3, 4)] == [2 * HOUR, 4 * HOUR, 8 * HOUR]
    assert backoff(6, poll) == MAX_BACKOFF == backoff(500, poll)


def test_after_failure() -> None:
    kwargs: dict[str, Any] = {"poll_interval": HOUR, "disable_after": 10}
    assert after_failure("F", 1, "HTTP 500", NOW, **kwargs).next_poll_at is None
    assert after_failure("F", 3, "HTTP 500", NOW, **kwargs).next_poll_at == NOW + 4 * HOUR
    waited = after_failure("F", 1, "HTTP 429", NOW, retry_after=timedelta(minutes=5), **kwargs)
    assert waited.next_poll_at == NOW + timedelta(minutes=5) and waited.disabled_reason is None

    gone = after_failure("F", 1, "HTTP 410 Gone", NOW, gone=True, **kwargs)
    assert gone.next_poll_at is None and gone.disabled_reason is not None
    assert "HTTP 410 Gone" in gone.disabled_reason
    assert "newsletter ingest --feed 'F'" in gone.disabled_reason

    tired = after_failure("F", 10, "HTTP 500 from x", NOW, **kwargs)
    assert tired.disabled_reason is not None
    assert "after 10 failed polls in a row" in tired.disabled_reason
    assert "last error: HTTP 500 from x" in tired.disabled_reason


def test_after_success_adopts_a_permanent_redirect_seen_twice() -> None:
    start = RedirectState(None, None, 0)
    first = after_success("https://a/", start, "https://b/")
    assert first == RedirectState(None, "https://b/", 1)
    second = after_success("https://a/", first, "https://b/")
    assert second.redirect_url == "https://b/"
    # Fetching the adopted URL answers without a redirect: it stays adopted.
    assert after_success("https://a/", second, None) == RedirectState("https://b/", None, 0)
    # A different target restarts the count; no redirect at all resets it.
    assert after_success("https://a/", first, "https://c/") == RedirectState(None, "https://c/", 1)
    assert after_success("https://a/", first, None) == start


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", timedelta(seconds=120)),
        ("0", timedelta(0)),
        ("Fri, 20 Nov 2026 12:30:00 GMT", timedelta(minutes=30)),
        ("Fri, 20 Nov 2026 11:00:00 GMT", timedelta(0)),  # in the past: now
        ("99999999999999999999", MAX_RETRY_AFTER),  # capped, and no huge int conversion
        ("Mon, 01 Jan 2035 00:00:00 GMT", MAX_RETRY_AFTER),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert parse_retry_after(header, NOW) == expected


# -- over real polls ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_is_adopted_after_two_polls(
    server: FeedServer, make_app: Any, status: int
) -> None:
    server.routes["/old.xml"] = Route(status=status, headers={"Location": "/new.xml"}, etag=False)
    server.routes["/new.xml"] = Route(FEED, etag=False)
    app = make_app(feeds=one_feed(server, "/old.xml"))

    ingest(app, now=NOW)
    row = health(app)
    assert row.redirect_url is None and row.redirect_count == 1
    assert row.redirect_candidate == server.url("/new.xml")

    ingest(app, now=NOW + HOUR)
    row = health(app)
    assert row.redirect_url == server.url("/new.xml")
    assert row.url == server.url("/old.xml")  # feeds.yaml stays the source of truth

    server.requests.clear()
    report = ingest(app, now=NOW + 2 * HOUR)
    assert report.outcomes[0].status in ("ok", "unchanged")
    assert paths(server) == ["/new.xml"]  # fetched directly now

    shown = CliRunner().invoke(
        main,
        ["feeds", "--config", str(app.config.path)],
        env={
            "NEWSLETTER_DATABASE_URL": str(app.engine.url.render_as_string(False)),
            "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
            "COLUMNS": "400",  # a wide table: rich would cut the URL to fit 80 columns
        },
    )
    assert shown.exit_code == 0, shown.output
    assert f"moved to {server.url('/new.xml')}" in shown.output.replace("\n", "")


def test_temporary_redirects_are_never_adopted(server: FeedServer, make_app: Any) -> None:
    server.routes["/old.xml"] = Route(status=302, headers={"Location": "/new.xml"}, etag=False)
    server.routes["/new.xml"] = Route(FEED, etag=False)
    app = make_app(feeds=one_feed(server, "/old.xml"))
    for n in range(3):
        ingest(app, now=NOW + n * HOUR)
    row = health(app)
    assert row.redirect_url is None and row.redirect_count == 0
    assert paths(server)[-2:] == ["/old.xml", "/new.xml"]


def test_410_gone_disables_the_feed_until_retried_by_name(
    server: FeedServer, make_app: Any
) -> None:
    server.routes["/gone.xml"] = Route(b"gone", "text/plain", status=410)
    app = make_app(feeds=one_feed(server, "/gone.xml"))
    first = ingest(app, now=NOW).outcomes[0]
    assert first.status == "error" and first.gone
    row = health(app)
    assert row.status == "disabled" and row.enabled is False
    assert "HTTP 410 Gone" in row.disabled_reason and row.last_error == row.disabled_reason

    server.requests.clear()
    later = ingest(app, now=NOW + 2 * HOUR).outcomes[0]
    assert later.status == "disabled" and "410" in (later.warning or "")
    assert server.requests == []  # not fetched again

    server.routes["/gone.xml"] = Route(FEED)  # the publisher brought it back
    retried = ingest(app, now=NOW + 3 * HOUR, only={"F"}).outcomes[0]
    assert retried.status == "ok" and retried.new_items == 1
    assert health(app).status == "ok" and health(app).disabled_reason is None


def test_retry_after_defers_the_next_poll(server: FeedServer, make_app: Any) -> None:
    server.routes["/busy.xml"] = Route(
        b"slow down", "text/plain", status=429, headers={"Retry-After": "600"}
    )
    app = make_app(feeds=one_feed(server, "/busy.xml"))
    before = datetime.now(UTC)
    first = ingest(app, now=NOW).outcomes[0]
    assert first.status == "error" and "the server asks to wait 10 min (Retry-After)" in (
        first.error or ""
    )
    assert health(app).next_poll_at == (NOW + timedelta(seconds=600)).isoformat()
    assert datetime.now(UTC) - before < timedelta(seconds=5)

    server.requests.clear()
    deferred = ingest(app, now=NOW + timedelta(minutes=5))
    assert deferred.outcomes[0].status == "deferred" and deferred.failed == []
    assert "next try after 2026-11-20 12:10 UTC" in (deferred.outcomes[0].warning or "")
    assert server.requests == []

    server.routes["/busy.xml"] = Route(FEED)
    assert ingest(app, now=NOW + timedelta(minutes=11)).outcomes[0].status == "ok"


def test_failures_in_a_row_back_off_then_disable(server: FeedServer, make_app: Any) -> None:
    server.routes["/down.xml"] = Route(b"down", "text/plain", status=503)
    app = make_app(feeds=one_feed(server, "/down.xml"), feed_disable_after=3, poll_minutes=60)
    now = NOW
    ingest(app, now=now)
    assert health(app).next_poll_at is None  # one failure: try at the next poll

    now += HOUR
    ingest(app, now=now)
    row = health(app)
    assert row.consecutive_failures == 2
    assert row.next_poll_at == (now + 2 * HOUR).isoformat()
    assert ingest(app, now=now + HOUR).outcomes[0].status == "deferred"

    now += 2 * HOUR
    assert ingest(app, now=now).outcomes[0].status == "error"
    row = health(app)
    assert row.status == "disabled" and row.consecutive_failures == 3
    assert "after 3 failed polls in a row" in row.disabled_reason
    assert "HTTP 503 Service Unavailable" in row.disabled_reason
    assert ingest(app, now=now + 48 * HOUR).outcomes[0].status == "disabled"


def test_ingest_counts_deferred_feeds_and_says_how_to_poll_one_now(
    server: FeedServer, make_app: Any
) -> None:
    """A feed backing off is "deferred", not failed: the command's last line counts it, and a
    note says how to poll it at once (it used to read "0 of 1 feeds failed" and nothing else)."""
    server.routes["/down.xml"] = Route(b"down", "text/plain", status=503)
    app = make_app(feeds=one_feed(server, "/down.xml"), poll_minutes=60)
    now = datetime.now(UTC)  # the command polls at the real time
    ingest(app, now=now - HOUR)
    ingest(app, now=now)  # the second failure in a row: the next try waits two hours
    server.requests.clear()
    env = {
        "NEWSLETTER_DATABASE_URL": str(app.engine.url.render_as_string(False)),
        "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES": "true",
        "NEWSLETTER_DATA_DIR": str(app.settings.data_dir),
        "NEWSLETTER_POLL_MINUTES": "60",
    }
    shown = CliRunner().invoke(main, ["ingest", "--config", str(app.config.path)], env=env)
    assert shown.exit_code == 0, shown.output
    assert "0 new items; 0 of 1 feeds failed; 1 deferred" in shown.stdout
    assert "`newsletter ingest --feed NAME` polls it now" in shown.stderr
    assert server.requests == []


def test_a_refusal_by_the_settings_neither_backs_off_nor_disables(
    server: FeedServer, make_app: Any
) -> None:
    """A feed on a private address while the settings forbid them: an error each poll (the
    same words), but nothing was asked of the feed, so it stays due and is never disabled; the
    first ingest after the setting is changed polls it (a new user's first steps)."""
    server.routes["/local.xml"] = Route(FEED)
    refused = {"allow_private_addresses": False, "feed_disable_after": 2, "poll_minutes": 60}
    app = make_app(feeds=one_feed(server, "/local.xml"), **refused)
    now = NOW
    for _ in range(3):
        outcome = ingest(app, now=now).outcomes[0]
        assert outcome.status == "error" and outcome.by_settings
        assert "NEWSLETTER_ALLOW_PRIVATE_ADDRESSES=true" in (outcome.error or "")
        row = health(app)
        assert row.status == "error" and row.next_poll_at is None
        assert row.consecutive_failures == 0 and row.disabled_reason is None
        now += HOUR
    assert server.requests == []

    allowed = make_app(feeds=one_feed(server, "/local.xml", allow_private=True), **refused)
    fixed = ingest(allowed, now=now).outcomes[0]  # no --feed needed
    assert fixed.status == "ok" and fixed.new_items == 1


def test_a_redirect_to_a_private_address_is_a_failure_of_the_feed(
    server: FeedServer, make_app: Any
) -> None:
    """Only the feed's own address is the settings' business: a feed whose server redirects to
    a private address fails as any feed does (counted, backed off)."""
    server.routes["/moved.xml"] = Route(
        b"", "text/plain", status=302, headers={"Location": "http://localhost:9/feed.xml"}
    )
    # allow_private allows the feed's own host (127.0.0.1), not another (localhost).
    feeds = one_feed(server, "/moved.xml", allow_private=True)
    app = make_app(feeds=feeds, allow_private_addresses=False)
    outcome = ingest(app, now=NOW).outcomes[0]
    assert outcome.status == "error" and not outcome.by_settings
    assert "non-public address" in (outcome.error or "")
    assert health(app).consecutive_failures == 1


def test_a_new_url_in_feeds_yaml_clears_the_feed_state(server: FeedServer, make_app: Any) -> None:
    server.routes["/gone.xml"] = Route(b"gone", "text/plain", status=410)
    server.routes["/fixed.xml"] = Route(FEED)
    app = make_app(feeds=one_feed(server, "/gone.xml"))
    ingest(app, now=NOW)
    assert health(app).status == "disabled"
    app = make_app(feeds=one_feed(server, "/fixed.xml"))  # the editor fixed the url
    assert ingest(app, now=NOW + HOUR).outcomes[0].status == "ok"
    row = health(app)
    assert row.disabled_reason is None and row.consecutive_failures == 0


def test_feed_timezone_is_used_for_dates_without_an_offset(
    server: FeedServer, make_app: Any
) -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Town hall</title><guid>th</guid><pubDate>2026-11-18</pubDate></item>"
        b"</channel></rss>"
    )
    server.routes["/local.xml"] = Route(body)
    app = make_app(feeds=one_feed(server, "/local.xml", timezone="America/New_York"))
    ingest(app, now=NOW)
    from newsletter.service.catalog import list_items

    (stored,) = list_items(app)
    assert stored.published == "2026-11-18T05:00:00+00:00"  # midnight in New York


def test_only_the_feeds_yaml_url_refused_is_the_settings_business() -> None:
    """An adopted permanent redirect is the server's choice: refused for a private address,
    it fails as any feed does (a server could otherwise move a feed where it is never backed
    off nor disabled)."""
    from newsletter.feeds.guard import PrivateAddressError
    from newsletter.feeds.limits import Validators
    from newsletter.service.ingest import _failed
    from newsletter.service.parsing import FeedJob

    refused = PrivateAddressError("host 'moved.example' resolves to non-public address 127.0.0.1")
    job = FeedJob(
        1, "F", "http://moved.example/feed.xml", "headlines", "en", None, Validators(), None
    )
    assert _failed(job, refused).by_settings
    adopted = FeedJob(
        1,
        "F",
        "http://moved.example/feed.xml",
        "headlines",
        "en",
        None,
        Validators(),
        None,
        redirected=True,
    )
    assert not _failed(adopted, refused).by_settings
