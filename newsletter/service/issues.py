"""Build an issue for a period: classify stored items, assemble, render, keep the draft."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlmodel import Session

from newsletter import store
from newsletter.assemble import Candidate, assemble_issue
from newsletter.content import IssueContent
from newsletter.db import session_scope
from newsletter.models import Feed, Issue, Item, utcnow
from newsletter.periods import (
    Period,
    latest_due_period,
    period_containing,
    period_for_date,
    period_for_label,
)
from newsletter.render import RenderedIssue, make_environment, render_issue
from newsletter.service.app import App
from newsletter.service.reading import read

log = logging.getLogger(__name__)
FROZEN = ("sending", "sent")


@dataclass
class BuiltIssue:
    """An issue's content and rendered parts, and whether it is frozen (already sending or sent)."""

    period: Period
    content: IssueContent
    rendered: RenderedIssue | None
    status: str
    warnings: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> bool:
        """True when the period has fewer items than newsletter.min_items."""
        return self.content.skipped_reason is not None


def resolve_period(app: App, week: str | None = None, as_of: date | None = None,
                   now: datetime | None = None, due: bool = False) -> Period:
    """The period from --week or --as-of; else the next issue to go (the one containing now),
    or with ``due`` the latest one whose send time has passed (what the scheduler sends)."""
    schedule = app.config.newsletter.schedule
    tz = app.config.newsletter.tz
    if week:
        return period_for_label(week, schedule.weekday, schedule.at, tz)
    if as_of:
        return period_for_date(as_of, schedule.weekday, schedule.at, tz)
    if due:
        return latest_due_period(now or datetime.now(UTC), schedule.weekday, schedule.at, tz)
    return period_containing(now or datetime.now(UTC), schedule.weekday, schedule.at, tz)


def classify_stored(app: App, session: Session, pairs: list[tuple[Item, Feed]]) -> None:
    """Re-read stored items with the current rules (editors may have changed feeds.yaml)."""
    changes = []
    for item, feed in pairs:
        reading = read(app, item.title, item.summary_text, item.language, item.published, feed.name, feed.section)
        if (item.section, item.section_reason, item.facts or {}) != (reading.section, reading.reason, reading.facts):
            item.section, item.section_reason, item.facts = reading.section, reading.reason, reading.facts
            changes.append((item.id or 0, reading.section, reading.reason, reading.facts))
    if changes:
        store.set_readings(session, changes)


def candidates(app: App, session: Session, period: Period) -> list[Candidate]:
    """Stored items published in the period, classified with the current rules."""
    pairs = store.items_between(session, period.start, period.end)
    classify_stored(app, session, pairs)
    weights = {f.name: f.weight for f in app.config.feeds}
    enabled = {f.name for f in app.config.feeds if f.enabled}
    known_sections = set(app.config.section_ids)
    result = []
    for item, feed in pairs:
        if feed.name not in enabled:
            continue  # removed from feeds.yaml or disabled: its stories leave the next issue too
        section = item.section if item.section in known_sections else feed.section
        result.append(
            Candidate(
                id=item.id or 0,
                feed=feed.name,
                weight=weights.get(feed.name, feed.weight),
                title=item.title,
                url=item.url,
                summary=item.summary_text,
                published=item.published,
                language=item.language,
                section=section,
                reason=item.section_reason or "",
                facts=item.facts or {},
            )
        )
    return result


def build_issue(app: App, period: Period, *, render: bool = True, force: bool = False) -> BuiltIssue:
    """The issue of a period. Frozen issues come back as stored; others are rebuilt and saved as a draft."""
    with session_scope(app.engine) as session:
        existing = store.get_issue(session, period.label)
        if existing is not None and existing.status in FROZEN:
            content = IssueContent.from_dict(existing.content)
            rendered = RenderedIssue(existing.html or "", existing.text or "")
            return BuiltIssue(period, content, rendered, existing.status)
        content = assemble_issue(app.config, period, candidates(app, session, period))
        rendered: RenderedIssue | None = None  # type: ignore[no-redef]
        warnings: list[str] = []
        if render and (not content.skipped_reason or force):
            env = make_environment(app.config.templates_dir)
            rendered, content = render_issue(env, content, app.render_options())
            warnings = list(rendered.warnings)
        issue = store.get_or_create_issue(session, period.label, period.start, period.end)
        _save_draft(issue, content, rendered)
        session.add(issue)
        return BuiltIssue(period, content, rendered, issue.status, warnings)


def _save_draft(issue: Issue, content: IssueContent, rendered: RenderedIssue | None) -> None:
    issue.subject = content.subject
    issue.content = content.to_dict()
    issue.skipped_reason = content.skipped_reason
    if rendered is not None:
        issue.html, issue.text = rendered.html, rendered.text
    issue.updated_at = utcnow()
