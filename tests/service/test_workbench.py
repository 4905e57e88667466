"""The workbench's view of an issue and the checks behind its forms: left-out items with their
reasons, the version that refuses stale forms, the account recorded as the actor."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from newsletter.demo.server import FeedServer
from newsletter.domain.overrides import EditError
from newsletter.errors import IssueError
from newsletter.service.editing import (
    StaleIssueError,
    change_item,
    edit_facts,
    edit_item,
    issue_version,
    reorder_item,
    save_viewpoint,
    set_status,
    show_issue,
    unapprove,
)
from newsletter.service.ingest import ingest
from newsletter.service.issues import build_issue, resolve_period
from newsletter.service.sending import send_test_copies
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


def _item(app: Any, period: Any, title_start: str) -> Any:
    return next(
        i
        for s in draft_view(app, period).content.sections
        for i in s.items
        if i.title.startswith(title_start)
    )


def test_overrides_reach_the_draft_and_the_sent_copy(
    make_app: Any, feed_server: FeedServer, smtp_server: Any
) -> None:
    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    app = make_app(
        feeds=[serve_stories(feed_server, period.end)],
        newsletter={"min_items": 1, "test_recipients": ["desk@news.example.com"]},
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_tls="none",
        smtp_timeout=5,
    )
    ingest(app)
    acme = _item(app, period, "Acme Health")
    edit_item(
        app, period, acme.id, "Acme Health raises <more>", None, "Checked with Acme", ACCOUNT, 0
    )
    edit_facts(app, period, acme.id, {"amount": "40M", "currency": "EUR"}, ACCOUNT, 1)
    save_viewpoint(app, period, "A **busy** week <script>alert(1)</script>", ACCOUNT, 2)
    view = draft_view(app, period)
    edited = _item(app, period, "Acme Health raises <more>")
    assert edited.facts["financing"]["amount_low"] == 40e6 and edited.blurb == "Checked with Acme"
    assert edited.facts["financing"]["round"] == "b"  # what was not overridden stays as read
    assert (
        view.html and "Acme Health raises &lt;more&gt;" in view.html and "<more>" not in view.html
    )
    assert "EUR 40.0M" in view.html and "Checked with Acme" in view.html
    assert view.text and "Acme Health raises <more>" in view.text and "EUR 40.0M" in view.text
    assert "<strong>busy</strong>" in view.html and "<script>" not in view.html
    assert view.content.viewpoint_source == "workbench"
    assert [(e.action, e.actor) for e in view.log] == [
        ("edit", ACCOUNT),
        ("facts", ACCOUNT),
        ("viewpoint", ACCOUNT),
    ]
    assert "title: Acme Health raises <more>" in (view.log[0].note or "")

    copies = send_test_copies(app, period, app.transport, ACCOUNT)
    assert copies.sent == ["desk@news.example.com"]
    (received,) = smtp_server.received
    assert received.rcpt_tos == ["desk@news.example.com"]
    message = received.message()
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Acme Health raises &lt;more&gt;" in html and "EUR 40.0M" in html
    assert "Acme Health raises <more>" in text and "<strong>busy</strong>" in html
    assert draft_view(app, period).log[-1].action == "test-copy"
    assert "sent to desk@news.example.com" in (draft_view(app, period).log[-1].note or "")

    # Clearing: an empty title is the feed's again; the blurb set before is kept (None: keep).
    edit_item(app, period, acme.id, "", None, None, ACCOUNT)
    again = _item(app, period, "Acme Health raises $25M")
    assert again.blurb == "Checked with Acme" and again.edited == ["blurb", "financing"]


def test_bad_values_and_approved_issues_change_nothing(app_and_period: tuple[Any, Any]) -> None:
    app, period = app_and_period
    first = draft_view(app, period).content.sections[0].items[0]
    with pytest.raises(EditError, match=r"^amount: "):
        edit_facts(app, period, first.id, {"amount": "lots", "currency": "USD"}, ACCOUNT, 0)
    with pytest.raises(EditError, match=r"^event_date: "):
        edit_facts(app, period, first.id, {"event_date": "next Tuesday"}, ACCOUNT, 0)
    assert issue_version(app, period) == 0 and draft_view(app, period).edits == {}
    set_status(app, period, "approved", actor=ACCOUNT, expected_version=0)
    with pytest.raises(
        IssueError, match="approved and its content is frozen; run `newsletter issue unapprove"
    ):
        edit_item(app, period, first.id, "New title", None, None, ACCOUNT, 1)
    with pytest.raises(IssueError, match="approved"):
        save_viewpoint(app, period, "Too late", ACCOUNT, 1)
    with pytest.raises(IssueError, match="approved"):
        reorder_item(app, period, first.id, "down", ACCOUNT, 1)
    assert issue_version(app, period) == 1


def test_reorder_is_kept_and_logged(app_and_period: tuple[Any, Any]) -> None:
    app, period = app_and_period
    financing = next(s for s in draft_view(app, period).content.sections if s.id == "financing")
    before = [i.id for i in financing.items]
    assert len(before) >= 2
    reorder_item(app, period, before[-1], "up", ACCOUNT, 0)
    after = next(s for s in draft_view(app, period).content.sections if s.id == "financing")
    assert [i.id for i in after.items] == [*before[:-2], before[-1], before[-2]]
    with pytest.raises(EditError, match="already first"):
        reorder_item(app, period, after.items[0].id, "up", ACCOUNT, 1)
    (entry,) = draft_view(app, period).log
    assert (entry.action, entry.item_id, entry.section, entry.actor) == (
        "up",
        before[-1],
        "financing",
        ACCOUNT,
    )
    # A stale page does not reorder.
    with pytest.raises(StaleIssueError):
        reorder_item(app, period, before[-1], "down", ACCOUNT, 0)


def test_a_test_copy_that_cannot_go_is_reported_and_logged(
    make_app: Any, feed_server: FeedServer
) -> None:
    from tests.smtp_server import free_port

    period = resolve_period(make_app(), now=datetime.now(UTC), due=True)
    app = make_app(
        feeds=[serve_stories(feed_server, period.end)],
        newsletter={"min_items": 1, "test_recipients": ["desk@news.example.com"]},
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),  # nothing listens there
        smtp_tls="none",
        smtp_timeout=2,
    )
    ingest(app)
    copies = send_test_copies(app, period, app.transport, ACCOUNT)
    assert copies.sent == []
    (result,) = copies.results
    assert result.message_id is None and result.error
    (entry,) = draft_view(app, period).log
    assert entry.action == "test-copy" and entry.actor == ACCOUNT
    assert (entry.note or "").startswith("not sent to desk@news.example.com: ")


def test_a_corrected_amount_survives_a_rebuild(app_and_period: tuple[Any, Any]) -> None:
    # Issue 12: the editor's amount is kept when the feed is polled again and the draft is
    # built again, and the totals use it, not the amount read from the feed.
    app, period = app_and_period
    acme = _item(app, period, "Acme Health")
    assert acme.facts["financing"]["amount_low"] == 25e6
    edit_facts(app, period, acme.id, {"amount": "40M", "currency": "EUR"}, ACCOUNT, 0)
    ingest(app)  # the same feed again: its items are read again
    built = build_issue(app, period, force=True)
    row = next(i for s in built.content.sections for i in s.items if i.id == acme.id)
    assert (row.facts["financing"]["amount_low"], row.facts["financing"]["currency"]) == (
        40e6,
        "EUR",
    )
    assert row.facts["financing"]["round"] == "b"  # not corrected: as read
    totals = {t["currency"]: t["low"] for t in built.content.financing_totals}
    rows = [i for s in built.content.sections if s.id == "financing" for i in s.items]
    usd = sum(
        i.facts["financing"]["amount_low"] or 0
        for i in rows
        if i.id != acme.id and i.facts["financing"]["currency"] == "USD"
    )
    assert totals["EUR"] == 40e6 and totals.get("USD", 0) == usd  # the feed's $25M is gone
    assert built.rendered is not None and "EUR 40.0M" in built.rendered.html
