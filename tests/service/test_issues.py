"""Building issues from stored items: current rules, current feeds, frozen issues stay as sent."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from newsletter.demo.server import FeedServer
from newsletter.email.transports import FileTransport
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period
from newsletter.service.sending import send_issue
from newsletter.service.subscribers import add_subscriber
from tests.conftest import SECTIONS
from tests.helpers import serve_stories

NOW = datetime.now(UTC)


def titles(built: Any, section: str) -> list[str]:
    return [i.title for s in built.content.sections if s.id == section for i in s.items]


def test_rule_changes_apply_to_stored_items(make_app: Any, feed_server: FeedServer) -> None:
    period = resolve_period(make_app(), now=NOW, due=True)
    feed = serve_stories(feed_server, period.end)
    app = make_app(feeds=[feed])
    ingest(app)
    assert "Orbis Robotics partners with City Hospital" in titles(
        build_issue(app, period), "industry"
    )
    # An editor adds a rule to headlines with a higher priority: the stored item moves.
    sections = [dict(s) for s in SECTIONS]
    for s in sections:
        if s["id"] == "headlines":
            s["keywords"] = [*s["keywords"], "Orbis"]
            s["priority"] = 1
    import yaml

    config = Path(app.config.path)
    raw = yaml.safe_load(config.read_text(encoding="utf-8"))
    raw["sections"] = sections
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    from newsletter.service.app import open_app

    edited = open_app(app.settings, config)
    rebuilt = build_issue(edited, period)
    assert "Orbis Robotics partners with City Hospital" in titles(rebuilt, "headlines")
    item = next(i for s in rebuilt.content.sections for i in s.items if i.title.startswith("Orbis"))
    assert item.section_reason == "keyword 'Orbis' in title"


def test_removed_feed_leaves_the_next_issue(make_app: Any, feed_server: FeedServer) -> None:
    period = resolve_period(make_app(), now=NOW, due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    ingest(app)
    assert build_issue(app, period).content.item_count == 8
    without = make_app(feeds=[])
    assert build_issue(without, period).content.item_count == 0


def test_a_sent_issue_is_frozen(make_app: Any, feed_server: FeedServer, tmp_path: Path) -> None:
    period = resolve_period(make_app(), now=NOW, due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    ingest(app)
    add_subscriber(app, "a@example.com")
    send_issue(app, period, FileTransport(tmp_path / "out"))
    without = make_app(feeds=[])
    frozen = build_issue(without, period)
    assert frozen.status == "sent" and frozen.content.item_count == 8
    assert frozen.rendered is not None and "Acme Health" in frozen.rendered.html


def test_rebuilding_a_past_week_gives_the_same_sections(
    make_app: Any, feed_server: FeedServer
) -> None:
    period = resolve_period(make_app(), now=NOW, due=True)
    app = make_app(feeds=[serve_stories(feed_server, period.end)])
    ingest(app)
    first = build_issue(app, period).content.to_dict()
    # Another week later, the same period is read the same way (no dependence on today).
    later = resolve_period(app, week=period.label)
    second = build_issue(app, later).content.to_dict()
    assert [(s["id"], [i["id"] for i in s["items"]]) for s in first["sections"]] == [
        (s["id"], [i["id"] for i in s["items"]]) for s in second["sections"]
    ]
