"""Editor controls on an issue: show, pin, drop, move, reorder, per-issue edits of an item's
text and facts, the viewpoint, approve, unapprove, hold; every change is logged with its actor.

Approval means one thing: the content is frozen as the editor approved it. Changing it needs
`unapprove` first, which returns the issue to a draft."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from newsletter.domain.overrides import (
    FACT_FIELDS,
    EditError,
    describe_facts_edit,
    describe_text_edit,
    edit_form_values,
    moved,
    parse_facts_edit,
    parse_text_edit,
)
from newsletter.domain.periods import Period
from newsletter.domain.statuses import FROZEN, IssueStatus
from newsletter.errors import IssueError
from newsletter.service.app import App
from newsletter.service.issues import BuiltIssue, build_issue
from newsletter.storage.db import Session, session_scope
from newsletter.storage.models import IssueAction
from newsletter.storage.queries import issues, items

ITEM_ACTIONS = ("pin", "unpin", "drop", "restore", "move")
REORDER_ACTIONS = ("up", "down")
VIEWPOINT_CHARS = 20_000
NOTE_CHARS = 500


@dataclass
class IssueView:
    """An issue as the editor sees it: the built draft and the log of changes."""

    built: BuiltIssue
    actions: list[IssueAction]


class StaleIssueError(IssueError):
    """The form was made for an earlier state of the issue; nothing was changed."""


def _check_version(session: Session, period: str, expected: int | None) -> None:
    """Refuse a change made on a stale view: ``expected`` is the number of logged actions the
    editor's page showed (None: no check, as on the command line)."""
    if expected is None:
        return
    current = issues.action_count(session, period)
    if current != expected:
        raise StaleIssueError(
            f"issue {period} changed while you were looking at it ({current - expected:+d} "
            "change(s) since your page was loaded); nothing was changed: review the page again "
            "and repeat what you still want"
        )


def _check_editable(
    session: Session, period: Period, expected_version: int | None, item_id: int | None = None
) -> None:
    """Refuse a change to a frozen or approved issue, on a stale page, or of an unknown item
    (the issue row is locked, so two editors' changes are applied one after the other)."""
    issue = issues.get_issue(session, period.label)
    if issue is not None:
        issue = issues.lock_issue(session, issue.id or 0)
    if issue is not None and issue.status in FROZEN:
        raise IssueError(f"issue {period.label} is {issue.status}; it can no longer be changed")
    _check_version(session, period.label, expected_version)
    if item_id is not None and items.get_item(session, item_id) is None:
        raise IssueError(
            f"no item {item_id}; see `newsletter issue show` or `newsletter items list`"
        )
    if issue is not None and issue.status == IssueStatus.APPROVED:
        raise IssueError(
            f"issue {period.label} is approved and its content is frozen; run "
            f"`newsletter issue unapprove --week {period.label}` (or Return to draft in the "
            "workbench) to change it, then approve it again"
        )


def _log(
    session: Session,
    period: Period,
    action: str,
    actor: str | None,
    item_id: int | None = None,
    section: str | None = None,
    note: str | None = None,
) -> IssueAction:
    if note is not None and len(note) > NOTE_CHARS:
        note = note[: NOTE_CHARS - 1] + "…"
    return issues.add_action(
        session,
        IssueAction(
            period=period.label,
            action=action,
            item_id=item_id,
            section=section,
            note=note,
            actor=actor or _actor(),
        ),
    )


def _merged(current: dict[str, str], given: Mapping[str, str | None]) -> dict[str, str | None]:
    """The kept form values with the given ones on top (None: keep, "": clear)."""
    return {**current, **{k: v for k, v in given.items() if v is not None}}


def edit_item(
    app: App,
    period: Period,
    item_id: int,
    title: str | None,
    summary: str | None,
    blurb: str | None,
    actor: str | None = None,
    expected_version: int | None = None,
) -> IssueAction:
    """Override an item's title, summary and short blurb for this issue (None: keep what was
    set; empty: the feed's text again); checked first (EditError names the field) and logged
    with the new text."""
    with session_scope(app.engine) as session:
        _check_editable(session, period, expected_version, item_id)
        current = edit_form_values(issues.item_edits(session, period.label).get(item_id))
        values = _merged(current, {"title": title, "summary": summary, "blurb": blurb})
        edit = parse_text_edit(values.get("title"), values.get("summary"), values.get("blurb"))
        issues.set_item_text(
            session, period.label, item_id, edit.title, edit.summary, edit.blurb, actor or _actor()
        )
        return _log(session, period, "edit", actor, item_id, note=describe_text_edit(edit))


def edit_facts(
    app: App,
    period: Period,
    item_id: int,
    values: Mapping[str, str | None],
    actor: str | None = None,
    expected_version: int | None = None,
) -> IssueAction:
    """Override an item's financing (company, round, amount, currency, investors) and event
    (event_date, place) facts for this issue (None or absent: keep what was set; empty: as
    extracted); checked first (EditError names the field, nothing is kept), logged."""
    with session_scope(app.engine) as session:
        _check_editable(session, period, expected_version, item_id)
        current = edit_form_values(issues.item_edits(session, period.label).get(item_id))
        merged = _merged(
            {k: v for k, v in current.items() if k in FACT_FIELDS},
            {k: values.get(k) for k in FACT_FIELDS},
        )
        edit = parse_facts_edit(merged)
        issues.set_item_facts(
            session, period.label, item_id, edit.financing, edit.event, actor or _actor()
        )
        return _log(session, period, "facts", actor, item_id, note=describe_facts_edit(edit))


def reorder_item(
    app: App,
    period: Period,
    item_id: int,
    direction: str,
    actor: str | None = None,
    expected_version: int | None = None,
) -> IssueAction:
    """Move an item one place up or down in its section, for this issue; the section's order
    as shown is kept from then on (items that arrive later go below it); logged."""
    if direction not in REORDER_ACTIONS:
        raise EditError("direction", "use up or down")
    built = build_issue(app, period, render=False, force=True)
    section = next(
        (s for s in built.content.sections if any(i.id == item_id for i in s.items)), None
    )
    if section is None:
        raise IssueError(
            f"item {item_id} is not in issue {period.label}; only the items shown can be reordered"
        )
    with session_scope(app.engine) as session:
        # The version check makes sure the order built above is the one the editor saw.
        _check_editable(session, period, expected_version, item_id)
        order = moved([i.id for i in section.items], item_id, direction)
        issues.set_positions(session, period.label, order, actor or _actor())
        return _log(
            session,
            period,
            direction,
            actor,
            item_id,
            section.id,
            note=f"now {order.index(item_id) + 1} of {len(order)}",
        )


def save_viewpoint(
    app: App,
    period: Period,
    text: str,
    actor: str | None = None,
    expected_version: int | None = None,
) -> IssueAction:
    """Keep the viewpoint written in the workbench (Markdown) for this issue; it wins over the
    file editorial/PERIOD.md, and saving it blank goes back to the file; logged."""
    text = text.replace("\r\n", "\n").strip()
    if len(text) > VIEWPOINT_CHARS:
        raise EditError("viewpoint", f"at most {VIEWPOINT_CHARS} characters, got {len(text)}")
    with session_scope(app.engine) as session:
        _check_editable(session, period, expected_version)
        issues.set_viewpoint(session, period.label, text, actor or _actor())
        note = (
            f"{len(text)} characters" if text else "cleared: the file editorial/PERIOD.md, if any"
        )
        return _log(session, period, "viewpoint", actor, note=note)


def written_viewpoint(app: App, period: Period) -> str | None:
    """The viewpoint written in the workbench for this issue, if any."""
    with session_scope(app.engine) as session:
        return issues.viewpoint_text(session, period.label)


def log_action(app: App, period: Period, action: str, note: str, actor: str | None = None) -> None:
    """Log something done with the issue that does not change it (a test copy sent)."""
    with session_scope(app.engine) as session:
        _log(session, period, action, actor, note=note)


def issue_version(app: App, period: Period) -> int:
    """The issue's version: how many changes its log holds (forms carry it back)."""
    with session_scope(app.engine) as session:
        return issues.action_count(session, period.label)


def _actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def show_issue(app: App, period: Period) -> IssueView:
    """Build (or read, when frozen) the issue and its change log."""
    built = build_issue(app, period, force=True)
    with session_scope(app.engine) as session:
        return IssueView(built, issues.actions(session, period.label))


ALREADY = {
    "pin": "is already pinned",
    "unpin": "is already unpinned",
    "drop": "is already dropped",
    "restore": "is already restored",
    "move": "is already moved",
}


def change_item(
    app: App,
    period: Period,
    action: str,
    item_id: int,
    section: str | None = None,
    note: str | None = None,
    actor: str | None = None,
    expected_version: int | None = None,
) -> IssueAction | str:
    """Pin (optionally into a section), unpin, drop, restore or move an item; logged under
    ``actor`` (default: the operating-system user). With ``expected_version`` a change made
    on a stale page is refused (StaleIssueError). The same change again, with no note (the
    item's latest pin, drop, move... in any issue, repeated in this one), is not logged again:
    a phrase saying so is returned instead ("is already pinned")."""
    if action not in ITEM_ACTIONS:
        raise IssueError(f"unknown action {action!r}; use one of {', '.join(ITEM_ACTIONS)}")
    if action == "move" and not section:
        raise IssueError("move needs --section")
    if section is not None and section not in app.config.section_ids:
        raise IssueError(
            f"no section {section!r}; sections are {', '.join(app.config.section_ids)}"
        )
    with session_scope(app.engine) as session:
        _check_editable(session, period, expected_version, item_id)
        last = issues.last_label_action(session, item_id) if note is None else None
        if last is not None and (last.period, last.action, last.section) == (
            period.label,
            action,
            section,
        ):
            # The item's latest decision, in any issue, repeated in the same issue: it changes
            # neither the issue nor what `model train` learns, so it is not logged again.
            return ALREADY[action] + (f" ({section})" if section else "")
        return _log(session, period, action, actor, item_id, section, note)


def published_outside(
    app: App, period: Period, item_id: int, *, unless_pinned: bool = True
) -> datetime | None:
    """When item ``item_id`` was published, if that is outside ``period``'s window (a pin
    brings such an item into the issue; a move, restore or drop of it changes nothing there);
    None for an item of the period, one pinned in it (its pin brings it in, so a move, drop or
    unpin applies), or an unknown one."""
    with session_scope(app.engine) as session:
        item = items.get_item(session, item_id)
        if item is None or item.published is None:
            return None
        if unless_pinned and item_id in issues.editor_choices(session, period.label).pins:
            return None  # in this issue by its pin: a move, drop or unpin does apply
        published = item.published
    if published.tzinfo is None:  # SQLite gives the stored UTC back without its zone
        published = published.replace(tzinfo=UTC)
    return None if period.contains(published) else published


def unapprove(
    app: App,
    period: Period,
    note: str | None = None,
    actor: str | None = None,
    expected_version: int | None = None,
) -> str:
    """Return an approved (or held) issue to a draft, so it can be changed; logged.

    The draft is built again from the stored items, the editor's changes and the viewpoint."""
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, period.label)
        if issue is None:
            raise IssueError(
                f"issue {period.label} is not built yet; there is nothing to unapprove"
            )
        issue = issues.lock_issue(session, issue.id or 0)
        if issue.status not in (IssueStatus.APPROVED, IssueStatus.HELD):
            raise IssueError(
                f"issue {period.label} is {issue.status}; only an approved or held issue can be "
                "unapproved"
            )
        _check_version(session, period.label, expected_version)
        issue.status = IssueStatus.DRAFT
        issues.save_issue(session, issue)
        issues.add_action(
            session,
            IssueAction(
                period=period.label, action="unapprove", note=note, actor=actor or _actor()
            ),
        )
    build_issue(app, period)
    return str(IssueStatus.DRAFT)


def set_status(
    app: App,
    period: Period,
    status: str,
    note: str | None = None,
    actor: str | None = None,
    expected_version: int | None = None,
) -> str:
    """Approve or hold a draft (building it first if needed); returns the new status."""
    if status not in (IssueStatus.APPROVED, IssueStatus.HELD):
        raise IssueError(f"unknown status {status!r}")
    # Rendered now, so that approval keeps exactly what the editor approved.
    built = build_issue(app, period)
    with session_scope(app.engine) as session:
        issue = issues.get_or_create_issue(session, period.label, period.start, period.end)
        issue = issues.lock_issue(session, issue.id or 0)
        if issue.status in FROZEN:
            raise IssueError(
                f"issue {period.label} is {issue.status}; it can no longer be approved or held"
            )
        _check_version(session, period.label, expected_version)
        if status == IssueStatus.APPROVED and built.skipped:
            raise IssueError(
                f"issue {period.label} would be skipped ({built.content.skipped_reason})"
            )
        issue.status = status
        issues.save_issue(session, issue)
        issues.add_action(
            session,
            IssueAction(
                period=period.label,
                action="approve" if status == IssueStatus.APPROVED else "hold",
                note=note,
                actor=actor or _actor(),
            ),
        )
        return status
