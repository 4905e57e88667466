"""The workbench's feed changes over feeds.yaml and a real database (SQLite, and PostgreSQL
with NEWSLETTER_TEST_POSTGRES_URL): validation naming the field, the running app and the feed
table updated at once, the next ingest polling accordingly, renames keeping items, stale
versions refused, and each feed's health (items per week, the share left out)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import load_config
from newsletter.demo.server import FeedServer
from newsletter.errors import ConfigError
from newsletter.service.app import App, open_app
from newsletter.service.feededits import (
    FeedForm,
    FeedFormError,
    StaleConfigError,
    add_feed,
    edit_feed,
    feeds_version,
    import_opml_upload,
    recent_feed_changes,
    set_feed_enabled,
)
from newsletter.service.feedstats import WEEKS, feeds_overview
from newsletter.service.ingest import ingest
from newsletter.service.issues import candidates, resolve_period
from newsletter.storage.db import session_scope
from newsletter.storage.queries import feeds
from tests.helpers import STORIES, serve_stories

ADMIN = "admin@news.example.com"


def stored_feeds(app: App) -> dict[str, tuple[str, bool]]:
    with session_scope(app.engine) as session:
        return {f.name: (f.url, f.enabled) for f in feeds.all_feeds(session)}


@pytest.fixture
def stories(make_app: Any, feed_server: FeedServer) -> App:
    """An app whose one feed (Stories) was polled once: its items are stored."""
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC), due=True)
    app: App = make_app(feeds=[serve_stories(feed_server, period.end)])
    assert ingest(app).new_items == len(STORIES)
    return app


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (FeedForm("", "https://x.example/", "headlines"), "name", "enter a name"),
        (
            FeedForm("stories", "https://x.example/", "headlines"),
            "name",
            "'Stories' exists already",
        ),
        (FeedForm("New", "ftp://x.example/f", "headlines"), "url", "must be an http or https URL"),
        (FeedForm("New", "", "headlines"), "url", "enter the feed's address"),
        (FeedForm("New", "https://x.example/", "nowhere"), "section", "'nowhere' is not one of"),
        (
            FeedForm("New", "https://x.example/", "headlines", "english"),
            "language",
            "language code",
        ),
        (
            FeedForm("New", "https://x.example/", "headlines", "en", "many"),
            "weight",
            "not a number",
        ),
        (FeedForm("New", "https://x.example/", "headlines", "en", "101"), "weight", "0 to 100"),
    ],
)
def test_a_bad_form_names_its_field_and_writes_nothing(
    stories: App, form: FeedForm, field: str, message: str
) -> None:
    path = stories.config.path
    before = path.read_text(encoding="utf-8")
    with pytest.raises(FeedFormError, match=message) as raised:
        add_feed(stories, form, feeds_version(stories), ADMIN)
    assert raised.value.field == field and str(raised.value).startswith(f"{field}: ")
    assert path.read_text(encoding="utf-8") == before
    assert not path.with_name("feeds.yaml.bak").exists()


def test_a_duplicate_address_is_refused(stories: App) -> None:
    url = stories.config.feeds[0].url
    with pytest.raises(FeedFormError, match="feed 'Stories' already has this address") as raised:
        add_feed(stories, FeedForm("Copy", url, "headlines"), feeds_version(stories), ADMIN)
    assert raised.value.field == "url"


def test_add_disable_enable_reach_the_app_the_table_and_the_next_ingest(
    stories: App, feed_server: FeedServer, tmp_path: Path
) -> None:
    period = resolve_period(stories, now=datetime.now(UTC), due=True)
    entry = serve_stories(feed_server, period.end, path="/more.xml")
    added = add_feed(
        stories,
        FeedForm("More stories", entry["url"], "industry", "zh", "2.5"),
        feeds_version(stories),
        ADMIN,
    )
    assert (added.section, added.language, added.weight) == ("industry", "zh", 2.5)
    # The running app, the file (as `newsletter check` reads it) and the feed table agree.
    assert "More stories" in stories.feeds_by_name
    assert load_config(stories.config.path).feed("More stories") == added
    assert stored_feeds(stories)["More stories"] == (entry["url"], True)
    # Another process (the scheduler's next job) reads feeds.yaml again and polls the new feed.
    other = open_app(stories.settings, stories.config.path)
    assert ingest(other).new_items == len(STORIES)
    other.engine.dispose()

    set_feed_enabled(stories, "Stories", False, feeds_version(stories), ADMIN)
    assert not stories.feeds_by_name["Stories"].enabled
    assert stored_feeds(stories)["Stories"][1] is False
    assert "enabled: false" in stories.config.path.read_text(encoding="utf-8")
    with session_scope(stories.engine) as session:
        shown = {c.feed for c in candidates(stories, session, period)}
    assert shown == {"More stories"}  # a disabled feed's items leave the coming issue
    report = ingest(open_app(stories.settings, stories.config.path))
    assert report.new_items == 0  # and it is not polled

    set_feed_enabled(stories, "Stories", True, feeds_version(stories), ADMIN)
    assert stories.feeds_by_name["Stories"].enabled
    assert stored_feeds(stories)["Stories"][1] is True
    with session_scope(stories.engine) as session:
        shown = {c.feed for c in candidates(stories, session, period)}
    assert shown == {"Stories", "More stories"}


def test_an_edit_rewrites_only_what_changed_and_a_rename_keeps_the_items(stories: App) -> None:
    path = stories.config.path
    path.write_text("# edited by hand: keep me\n" + path.read_text(encoding="utf-8"))
    url = stories.config.feeds[0].url
    edited = edit_feed(
        stories,
        "Stories",
        FeedForm("Top stories", url, "industry", "en", "1"),
        feeds_version(stories),
        ADMIN,
    )
    assert (edited.name, edited.section) == ("Top stories", "industry")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# edited by hand: keep me\n")
    assert "name: Top stories" in text and "weight" not in text  # the default stays unwritten
    overview = feeds_overview(stories, datetime.now(UTC))
    (row,) = overview.rows
    assert row.config.name == "Top stories"
    assert row.recent_items == len(STORIES)  # the renamed feed kept its items and its health
    assert row.last_success_at is not None and row.status in ("ok", "not_modified")
    assert set(stored_feeds(stories)) == {"Top stories"}


def test_a_stale_form_is_refused_and_the_file_stays_as_the_other_editor_left_it(
    stories: App,
) -> None:
    version = feeds_version(stories)
    set_feed_enabled(stories, "Stories", False, version, ADMIN)  # another editor, first
    after_first = stories.config.path.read_text(encoding="utf-8")
    with pytest.raises(StaleConfigError, match="Reload the page"):
        edit_feed(
            stories,
            "Stories",
            FeedForm("Renamed", stories.config.feeds[0].url, "headlines"),
            version,
            ADMIN,
        )
    assert stories.config.path.read_text(encoding="utf-8") == after_first
    assert "Stories" in stories.feeds_by_name


def test_another_process_sees_a_hand_edit_at_its_next_page(stories: App) -> None:
    """A second web worker (or an editor with a text editor) changed the file: the app reads
    it again before it shows or changes the feeds."""
    other = open_app(stories.settings, stories.config.path)
    set_feed_enabled(other, "Stories", False, feeds_version(other), ADMIN)
    other.engine.dispose()
    assert stories.feeds_by_name["Stories"].enabled  # not read yet
    overview = feeds_overview(stories, datetime.now(UTC))
    assert overview.rows[0].status == "disabled" and not stories.feeds_by_name["Stories"].enabled


def test_health_counts_items_a_week_and_the_share_left_out(
    make_app: Any, feed_server: FeedServer
) -> None:
    """Stories the reading leaves out (an exclude keyword here) count in the share."""
    probe = make_app()
    period = resolve_period(probe, now=datetime.now(UTC), due=True)
    entry = serve_stories(feed_server, period.end)
    word = STORIES[0][0].split()[0]
    app = make_app(feeds=[{**entry, "exclude": [word]}])
    assert ingest(app).new_items == len(STORIES)
    left = sum(1 for title, _ in STORIES if word.lower() in title.lower())
    (row,) = feeds_overview(app, datetime.now(UTC)).rows
    assert row.recent_items == len(STORIES) and row.left_out == left > 0
    assert row.items_per_week == len(STORIES) / WEEKS
    assert row.left_out_share == left / len(STORIES)


def test_opml_upload_adds_new_feeds_once(stories: App) -> None:
    data = (
        b'<?xml version="1.0"?><opml version="2.0"><head/><body>'
        b'<outline text="Industry" category="industry">'
        b'<outline type="rss" text="Pharma &amp;amp; Biotech" xmlUrl="https://pb.example/rss"/>'
        b"</outline>"
        b'<outline type="rss" text="Again" xmlUrl="' + stories.config.feeds[0].url.encode() + b'"/>'
        b"</body></opml>"
    )
    report = import_opml_upload(stories, data, "headlines", feeds_version(stories), ADMIN)
    assert [(a.name, a.section) for a in report.added] == [("Pharma & Biotech", "industry")]
    assert [s.reason for s in report.skipped] == ["already configured"]
    assert stories.feeds_by_name["Pharma & Biotech"].url == "https://pb.example/rss"
    again = import_opml_upload(stories, data, None, feeds_version(stories), ADMIN)
    assert again.added == [] and len(again.skipped) == 2
    with pytest.raises(FeedFormError, match="section: 'nowhere'"):
        import_opml_upload(stories, data, "nowhere", feeds_version(stories), ADMIN)


def test_a_form_is_checked_without_a_database(tmp_path: Path) -> None:
    """checked_entry is pure: a Config and a form in, feeds.yaml values out."""
    from newsletter.service.feededits import checked_entry
    from tests.conftest import write_config

    config = load_config(write_config(tmp_path, []))
    entry = checked_entry(config, FeedForm("  A   feed ", " https://a.example/x ", "headlines"))
    assert entry == {
        "name": "A feed",
        "url": "https://a.example/x",
        "section": "headlines",
        "language": "en",
        "weight": 1.0,
    }


def test_a_hand_edit_that_does_not_load_keeps_the_last_good_feeds(stories: App) -> None:
    """The web app goes on with the previous feeds.yaml (logged), and refuses to write on top of
    a broken file, saying what is wrong."""
    path = stories.config.path
    path.write_text(path.read_text(encoding="utf-8") + "  - name: [broken\n", encoding="utf-8")
    overview = feeds_overview(stories, datetime.now(UTC))
    assert [r.config.name for r in overview.rows] == ["Stories"]
    with pytest.raises(ConfigError, match="YAML"):
        set_feed_enabled(stories, "Stories", False, feeds_version(stories), ADMIN)
    assert "[broken" in path.read_text(encoding="utf-8")
    assert stories.feeds_by_name["Stories"].enabled


def test_every_workbench_change_is_logged_with_its_account(stories: App) -> None:
    """The feed list's action log: who added, changed, disabled, enabled or imported which
    feed, and when; refused and no-op changes leave no line."""
    ana, ben = "ana@news.example.com", "ben@news.example.com"
    assert recent_feed_changes(stories) == []
    form = FeedForm("More", "https://more.example/rss", "industry")
    add_feed(stories, form, feeds_version(stories), ana)
    renamed = FeedForm("Most", "https://more.example/rss", "headlines", "en", "2")
    edit_feed(stories, "More", renamed, feeds_version(stories), ben)
    set_feed_enabled(stories, "Most", False, feeds_version(stories), ana)
    set_feed_enabled(stories, "Most", False, feeds_version(stories), ana)  # already disabled
    stale = feeds_version(stories)
    set_feed_enabled(stories, "Most", True, feeds_version(stories), ben)
    with pytest.raises(StaleConfigError):
        set_feed_enabled(stories, "Most", False, stale, ana)
    with pytest.raises(FeedFormError):
        add_feed(
            stories, FeedForm("", "https://x.example/", "industry"), feeds_version(stories), ana
        )
    data = (
        b'<opml version="2.0"><body><outline text="Events" category="events">'
        b'<outline text="Congress &amp;amp; Co" xmlUrl="https://congress.example/rss"/>'
        b'<outline text="Expo" xmlUrl="https://expo.example/atom"/></outline></body></opml>'
    )
    import_opml_upload(stories, data, None, feeds_version(stories), ben)
    import_opml_upload(stories, data, None, feeds_version(stories), ben)  # adds nothing

    changes = recent_feed_changes(stories)
    assert [(c.feed, c.action, c.note, c.actor) for c in changes] == [
        ("Expo", "imported", "https://expo.example/atom in events, from OPML", ben),
        ("Congress & Co", "imported", "https://congress.example/rss in events, from OPML", ben),
        ("Most", "enabled", None, ben),
        ("Most", "disabled", None, ana),
        (
            "Most",
            "changed",
            "name: More → Most; section: industry → headlines; weight: 1.0 → 2.0",
            ben,
        ),
        ("More", "added", "https://more.example/rss in industry", ana),
    ]
    times = [c.at for c in changes]
    assert all(t is not None and t.tzinfo is not None for t in times)
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]
    assert [c.feed for c in recent_feed_changes(stories, limit=2)] == ["Expo", "Congress & Co"]
