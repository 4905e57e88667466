"""Editor controls: pin, drop, move, approve, hold; the scheduler honours approval and holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from newsletter.demo.server import FeedServer
from newsletter.errors import IssueError
from newsletter.service.editing import change_item, set_status, show_issue, unapprove
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period
from newsletter.service.schedule import send_due
from newsletter.service.subscribers import add_subscriber
from newsletter.storage.models import IssueAction
from tests.helpers import serve_stories

NOW = datetime.now(UTC)


@pytest.fixture
def editor_app(make_app: Any, feed_server: FeedServer) -> Any:
    """Stories in the due period, two subscribers, approval required."""
    period = resolve_period(make_app(), now=NOW, due=True)
    app = make_app(
        feeds=[serve_stories(feed_server, period.end)],
        newsletter={"auto_approve": False, "min_items": 1},
        misfire_grace_hours=24 * 8,
    )
    ingest(app)
    add_subscriber(app, "a@example.com")
    add_subscriber(app, "b@example.com")
    return app


def item_id(app: Any, period: Any, prefix: str) -> int:
    built = build_issue(app, period)
    return next(i.id for s in built.content.sections for i in s.items if i.title.startswith(prefix))


def section_of(app: Any, period: Any, item: int) -> str | None:
    built = build_issue(app, period)
    return next((s.id for s in built.content.sections for i in s.items if i.id == item), None)


def test_pin_drop_move_and_the_change_log(editor_app: Any) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    orbis = item_id(editor_app, period, "Orbis")
    fda = item_id(editor_app, period, "FDA approves")
    change_item(editor_app, period, "move", orbis, "headlines")
    assert section_of(editor_app, period, orbis) == "headlines"
    change_item(editor_app, period, "drop", fda, note="duplicate of last week")
    assert section_of(editor_app, period, fda) is None
    change_item(editor_app, period, "restore", fda)
    change_item(editor_app, period, "pin", fda, "hot_topics")
    built = build_issue(editor_app, period)
    hot = next(s for s in built.content.sections if s.id == "hot_topics")
    assert hot.items[0].id == fda and hot.items[0].pinned
    assert hot.items[0].section_reason == "placed in hot_topics by the editor"
    view = show_issue(editor_app, period)
    assert [a.action for a in view.actions] == ["move", "drop", "restore", "pin"]
    assert view.actions[1].note == "duplicate of last week" and view.actions[0].actor


def test_the_same_change_again_is_not_logged_again(editor_app: Any) -> None:
    """A repeat of an item's latest decision (in any issue) in the same issue, with no note,
    changes neither the issue nor what `model train` learns: not logged. Anything else is."""
    period = resolve_period(editor_app, now=NOW, due=True)
    fda = item_id(editor_app, period, "FDA approves")
    orbis = item_id(editor_app, period, "Orbis")
    change_item(editor_app, period, "pin", fda, "hot_topics")
    assert change_item(editor_app, period, "pin", fda, "hot_topics") == (
        "is already pinned (hot_topics)"
    )
    change_item(editor_app, period, "drop", orbis)
    assert change_item(editor_app, period, "drop", orbis) == "is already dropped"
    change_item(editor_app, period, "drop", orbis, note="duplicate of #12")  # a note: logged
    change_item(editor_app, period, "pin", fda, "headlines")  # another section: a change
    # move, then pin elsewhere, then the same move again: the move is no longer the latest
    # decision (the model would learn the pin's section), so it is logged
    change_item(editor_app, period, "move", fda, "industry")
    change_item(editor_app, period, "pin", fda, "hot_topics")
    assert isinstance(change_item(editor_app, period, "move", fda, "industry"), IssueAction)
    nxt = resolve_period(editor_app, now=NOW + timedelta(days=7), due=True)
    change_item(editor_app, nxt, "drop", fda)  # the latest decision is now in another issue
    assert isinstance(change_item(editor_app, period, "move", fda, "industry"), IssueAction)
    view = show_issue(editor_app, period)
    assert [a.action for a in view.actions] == [
        "pin", "drop", "drop", "pin", "move", "pin", "move", "move"
    ]  # fmt: skip
    assert view.actions[2].note == "duplicate of #12"


def test_bad_changes_are_refused_clearly(editor_app: Any) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    with pytest.raises(IssueError, match="no item 999999"):
        change_item(editor_app, period, "drop", 999999)
    with pytest.raises(IssueError, match="no section 'gossip'"):
        change_item(editor_app, period, "move", item_id(editor_app, period, "Orbis"), "gossip")
    with pytest.raises(IssueError, match="move needs --section"):
        change_item(editor_app, period, "move", item_id(editor_app, period, "Orbis"))


def test_scheduler_waits_for_approval_then_sends_once(editor_app: Any, tmp_path: Path) -> None:
    assert send_due(editor_app, NOW) is None  # a draft, and auto_approve is off
    assert not list((tmp_path / "outbox").glob("*.eml"))
    period = resolve_period(editor_app, now=NOW, due=True)
    assert set_status(editor_app, period, "approved") == "approved"
    report = send_due(editor_app, NOW)
    assert report is not None and report.sent == 2
    again = send_due(editor_app, NOW)
    assert again is not None and again.status == "already-sent"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2
    with pytest.raises(IssueError, match="no longer"):
        set_status(editor_app, period, "held")


def test_a_held_issue_is_never_sent(editor_app: Any, tmp_path: Path) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    set_status(editor_app, period, "approved")
    set_status(editor_app, period, "held")
    assert send_due(editor_app, NOW) is None
    assert not list((tmp_path / "outbox").glob("*.eml"))


def test_an_approved_issue_refuses_changes_until_unapproved(editor_app: Any) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    orbis = item_id(editor_app, period, "Orbis")
    set_status(editor_app, period, "approved")
    approved = build_issue(editor_app, period).content.to_dict()
    with pytest.raises(IssueError, match=r"is approved and its content is frozen; run .*unapprove"):
        change_item(editor_app, period, "drop", orbis)
    # Refused means nothing changed: still approved, same content, nothing logged.
    view = show_issue(editor_app, period)
    assert view.built.status == "approved"
    assert view.built.content.to_dict() == approved
    assert [a.action for a in view.actions] == ["approve"]

    assert unapprove(editor_app, period, "one more story") == "draft"
    change_item(editor_app, period, "drop", orbis)
    view = show_issue(editor_app, period)
    assert view.built.status == "draft"
    assert [a.action for a in view.actions] == ["approve", "unapprove", "drop"]
    assert view.actions[1].note == "one more story"
    shown = [i.id for s in view.built.content.sections for i in s.items]
    assert orbis not in shown
    assert send_due(editor_app, NOW) is None  # a draft again, and auto_approve is off
    assert set_status(editor_app, period, "approved") == "approved"
    assert send_due(editor_app, NOW) is not None


def test_unapprove_only_from_approved_or_held(editor_app: Any) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    with pytest.raises(IssueError, match="not built yet"):
        unapprove(editor_app, period)
    build_issue(editor_app, period)
    with pytest.raises(IssueError, match="is draft; only an approved or held issue"):
        unapprove(editor_app, period)
    set_status(editor_app, period, "held")
    assert unapprove(editor_app, period) == "draft"
    set_status(editor_app, period, "approved")
    send_due(editor_app, NOW)
    with pytest.raises(IssueError, match="is sent; only an approved or held issue"):
        unapprove(editor_app, period)


def test_approval_keeps_the_approved_content(editor_app: Any, feed_server: FeedServer) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    set_status(editor_app, period, "approved")
    approved = build_issue(editor_app, period).content.to_dict()
    # A story arriving after approval is not slipped into the approved issue.
    from tests.helpers import rss

    feed_server.routes["/stories.xml"].body = rss(
        [("Late-breaking: a brand new policy story", "late1", period.end - timedelta(minutes=5))]
    )
    ingest(editor_app)
    assert build_issue(editor_app, period).content.to_dict() == approved
    # Unapproved, the draft is built again and takes it in.
    unapprove(editor_app, period)
    titles = [i.title for s in build_issue(editor_app, period).content.sections for i in s.items]
    assert "Late-breaking: a brand new policy story" in titles


def test_pin_from_outside_the_week(editor_app: Any, feed_server: FeedServer) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    previous = resolve_period(editor_app, week=_previous_week(period.label))
    older = item_id(editor_app, period, "Orbis")
    # Pin an item of this week into the previous week's issue.
    change_item(editor_app, previous, "pin", older, "headlines")
    built = build_issue(editor_app, previous)
    headlines = next(s for s in built.content.sections if s.id == "headlines")
    assert headlines.items[0].id == older and headlines.items[0].pinned


def _previous_week(label: str) -> str:
    from datetime import date

    year, week = int(label[:4]), int(label[6:])
    monday = date.fromisocalendar(year, week, 1) - timedelta(days=7)
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def test_issues_are_numbered_for_readers_in_the_order_they_went_out(editor_app: Any) -> None:
    period = resolve_period(editor_app, now=NOW, due=True)
    first = build_issue(editor_app, period).content
    assert first.number == 1 and first.subject.endswith(first.issue_label)
    assert period.label not in first.subject  # no ISO week in what readers see
    set_status(editor_app, period, "approved")
    assert send_due(editor_app, NOW) is not None
    later = resolve_period(editor_app, now=NOW + timedelta(days=7), due=True)
    assert later.label != period.label
    assert build_issue(editor_app, later, force=True).content.number == 2
    # The sent issue keeps its number.
    assert build_issue(editor_app, period).content.number == 1
