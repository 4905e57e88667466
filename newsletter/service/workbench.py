"""The editor's workbench view of one issue: the draft as it will be sent, every section's
items, what was left out and why, and the change log, with the version forms carry back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from newsletter.domain.content import IssueContent
from newsletter.domain.overrides import ItemEdit, edit_form_values
from newsletter.domain.periods import Period
from newsletter.domain.statuses import FROZEN, IssueStatus
from newsletter.email.render import html_values, markdown_to_html, personalize, preview_values
from newsletter.service.app import App
from newsletter.service.catalog import list_items
from newsletter.service.editing import show_issue
from newsletter.service.issues import resolve_period
from newsletter.storage.db import session_scope
from newsletter.storage.queries import issues

LEFT_OUT = "left out"
DROPPED = "dropped"
NOT_CHOSEN = "not chosen"


@dataclass(frozen=True)
class LeftOutItem:
    """An item of the period that is not in the issue, and why (restorable in one click)."""

    id: int
    title: str
    source: str
    url: str | None
    kind: str  # LEFT_OUT (reading rules), DROPPED (an editor) or NOT_CHOSEN (caps, duplicates)
    reason: str


@dataclass(frozen=True)
class LogEntry:
    """One logged change of the issue."""

    at: datetime
    action: str
    item_id: int | None
    section: str | None
    actor: str | None
    note: str | None


@dataclass
class DraftView:
    """Everything the workbench's draft page shows."""

    period: str
    status: str
    version: int  # the number of logged changes; forms carry it so stale ones are refused
    content: IssueContent
    html: str | None
    text: str | None
    warnings: list[str]
    left_out: list[LeftOutItem] = field(default_factory=list)
    log: list[LogEntry] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)  # (id, title) for "move"
    edits: dict[int, ItemEdit] = field(default_factory=dict)  # the per-issue overrides
    viewpoint_written: str = ""  # the Markdown written in the workbench ("" : none)
    test_recipients: list[str] = field(default_factory=list)

    def form_values(self, item_id: int) -> dict[str, str]:
        """What the item's edit forms show: the overrides kept for this issue."""
        return edit_form_values(self.edits.get(item_id))

    @property
    def is_editable(self) -> bool:
        """Items can change only on a draft (or held) issue."""
        return self.status in (IssueStatus.DRAFT, IssueStatus.HELD)

    @property
    def can_approve(self) -> bool:
        """A draft or held issue can be approved."""
        return self.status in (IssueStatus.DRAFT, IssueStatus.HELD)

    @property
    def can_unapprove(self) -> bool:
        """An approved or held issue can go back to a draft."""
        return self.status in (IssueStatus.APPROVED, IssueStatus.HELD)

    @property
    def can_hold(self) -> bool:
        """A draft or approved issue can be held."""
        return self.status in (IssueStatus.DRAFT, IssueStatus.APPROVED)

    @property
    def is_frozen(self) -> bool:
        """Being sent or sent: nothing can change."""
        return self.status in FROZEN


def period_of(app: App, label: str) -> Period:
    """The period of a label such as 2026-W48 (IssueError when it is not one)."""
    return resolve_period(app, week=label)


def next_period(app: App, now: datetime | None = None) -> Period:
    """The period of the next issue to go."""
    return resolve_period(app, now=now)


def draft_view(app: App, period: Period) -> DraftView:
    """Build the issue (or read it when approved or frozen) with what the editor needs."""
    view = show_issue(app, period)
    content = view.built.content
    with session_scope(app.engine) as session:
        choices = issues.editor_choices(session, period.label)
        written = issues.viewpoint_text(session, period.label) or ""
    in_issue = {item.id for section in content.sections for item in section.items}
    window = list_items(
        app,
        since=datetime.fromisoformat(content.window_start),
        until=datetime.fromisoformat(content.window_end),
    )
    dropped_by = {
        a.item_id: a.actor for a in view.actions if a.action == "drop" and a.item_id is not None
    }
    left_out: list[LeftOutItem] = []
    for row in window:
        if row.id is None or row.id in in_issue:
            continue
        if row.id in choices.drops:
            kind, reason = DROPPED, f"dropped by {dropped_by.get(row.id) or 'an editor'}"
        elif row.section is None:
            kind, reason = LEFT_OUT, row.section_reason or "not relevant"
        else:
            kind = NOT_CHOSEN
            reason = f"qualified for {row.section}: over its cap, or another item tells the story"
        left_out.append(LeftOutItem(row.id, row.title, row.feed, row.link, kind, reason))
    order = {DROPPED: 0, NOT_CHOSEN: 1, LEFT_OUT: 2}
    left_out.sort(key=lambda i: order[i.kind])
    values = preview_values(app.settings.base_url)
    rendered = view.built.rendered
    return DraftView(
        period=period.label,
        status=str(view.built.status),
        version=len(view.actions),
        content=content,
        html=personalize(rendered.html, html_values(values)) if rendered else None,
        text=personalize(rendered.text, values) if rendered else None,
        warnings=list(view.built.warnings),
        left_out=left_out,
        log=[
            LogEntry(a.created_at, a.action, a.item_id, a.section, a.actor, a.note)
            for a in view.actions
        ],
        sections=[(s.id, s.title) for s in app.config.sections],
        edits=dict(choices.edits),
        viewpoint_written=written,
        test_recipients=list(app.config.newsletter.test_recipients),
    )


def viewpoint_preview(text: str) -> str:
    """The viewpoint's Markdown as the email shows it (sanitized HTML)."""
    return markdown_to_html(text)


__all__ = [
    "DROPPED",
    "LEFT_OUT",
    "NOT_CHOSEN",
    "DraftView",
    "LeftOutItem",
    "LogEntry",
    "draft_view",
    "next_period",
    "period_of",
    "viewpoint_preview",
]
