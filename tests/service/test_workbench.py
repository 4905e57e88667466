"""The workbench's view of an issue and the checks behind its forms: left-out items with their
reasons, the version that refuses stale forms, the account recorded as the actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from newsletter.demo.server import FeedServer
from newsletter.service.editing import (
    StaleIssueError,
    change_item,
    issue_version,
    set_status,
    show_issue,
    unapprove,
)
from newsletter.service.ingest import ingest
from newsletter.service.issues import resolve_period
from newsletter.service.workbench import DROPPED, LEFT_OUT, draft_view
from tests.helpers import serve_stories

ACCOUNT = "ed@news.example.com"


@pytest.fixture
def app_and_period(make_app: Any, feed_server: FeedServer) -> tuple[Any, Any]:
    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    feed = {**serve_stories(feed_server, period.end), "exclude": ["Orbis"]}
    app = make_app(feeds=[feed], newsletter={"min_items": 1})
    ingest(app)
    return app, period


def test_left_out_items_carry_their_reasons(app_and_period: tuple[Any, Any]) -> None:
    app, period = app_and_period
    view = draft_view(app, period)
    assert view.status == "draft" and view.version == 0 and view.html and view.text
    (orbis,) = [i for i in view.left_out if i.title.startswith("Orbis")]
    assert orbis.kind == LEFT_OUT and "Orbis" in orbis.reason
    first = view.content.sections[0].items[0]
    change_item(app, period, "drop", first.id, actor=ACCOUNT, expected_version=0)
    view = draft_view(app, period)
    (dropped,) = [i for i in view.left_out if i.id == first.id]
    assert (dropped.kind, dropped.reason) == (DROPPED, f"dropped by {ACCOUNT}")
    assert view.left_out[0].kind == DROPPED  # the editor's own drops first
    assert view.version == 1 and view.log[-1].actor == ACCOUNT


def test_a_stale_version_changes_nothing(app_and_period: tuple[Any, Any]) -> None:
    app, period = app_and_period
    item = draft_view(app, period).content.sections[0].items[0].id
    change_item(app, period, "pin", item, actor=ACCOUNT, expected_version=0)
    assert issue_version(app, period) == 1
    with pytest.raises(StaleIssueError, match="changed while you were looking"):
        change_item(app, period, "drop", item, actor="late@example.com", expected_version=0)
    with pytest.raises(StaleIssueError):
        set_status(app, period, "approved", actor="late@example.com", expected_version=0)
    assert issue_version(app, period) == 1
    assert show_issue(app, period).built.status == "draft"

    set_status(app, period, "approved", actor=ACCOUNT, expected_version=1)
    with pytest.raises(StaleIssueError):
        unapprove(app, period, actor="late@example.com", expected_version=1)
    assert show_issue(app, period).built.status == "approved"
    unapprove(app, period, actor=ACCOUNT, expected_version=2)
    actors = [(a.action, a.actor) for a in show_issue(app, period).actions]
    assert actors == [("pin", ACCOUNT), ("approve", ACCOUNT), ("unapprove", ACCOUNT)]
    # Without a version (the command line) nothing is checked, and the OS user is the actor.
    change_item(app, period, "unpin", item)
    assert show_issue(app, period).actions[-1].actor not in (None, ACCOUNT)
