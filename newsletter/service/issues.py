"""Build an issue for a period: classify stored items, assemble, render, keep the draft."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from newsletter.domain.assemble import Candidate, assemble_issue, with_briefs, with_key_points
from newsletter.domain.content import IssueContent
from newsletter.domain.editorial.brief import Brief, brief
from newsletter.domain.editorial.classify import Reading
from newsletter.domain.editorial.keypoints import key_points, split_paragraphs
from newsletter.domain.paragraphs import TextBlock, body_paragraphs
from newsletter.domain.periods import (
    Period,
    is_special,
    latest_due_period,
    period_containing,
    period_for_date,
    period_for_label,
)
from newsletter.domain.statuses import FROZEN, IssueStatus
from newsletter.email.calendar import calendar_attachments
from newsletter.email.render import RenderedIssue, make_environment, markdown_to_html, render_issue
from newsletter.errors import IssueError
from newsletter.service.app import App
from newsletter.service.articles import ensure_articles
from newsletter.service.reading import feed_rules, model_path, read_feed_items, reading_rules
from newsletter.storage.db import Session, session_scope
from newsletter.storage.models import Feed, Issue, Item, utcnow
from newsletter.storage.queries import issues, items
from newsletter.storage.queries.items import ItemReading

log = logging.getLogger(__name__)


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


def resolve_period(
    app: App,
    week: str | None = None,
    as_of: date | None = None,
    now: datetime | None = None,
    due: bool = False,
) -> Period:
    """The period from --week (an ISO week, or a special issue's label) or --as-of; else the
    next issue to go (the one containing now), or with ``due`` the latest one whose send time
    has passed (what the scheduler sends)."""
    schedule = app.config.newsletter.schedule
    tz = app.config.newsletter.tz
    if week and is_special(week.strip()):
        return special_period_of(app, week.strip())
    if week:
        return period_for_label(week, schedule.weekday, schedule.at, tz)
    if as_of:
        return period_for_date(as_of, schedule.weekday, schedule.at, tz)
    if due:
        return latest_due_period(now or datetime.now(UTC), schedule.weekday, schedule.at, tz)
    return period_containing(now or datetime.now(UTC), schedule.weekday, schedule.at, tz)


def special_period_of(app: App, label: str) -> Period:
    """A special issue's period, as it was created (`newsletter issue special`)."""
    with session_scope(app.engine) as session:
        issue = issues.get_issue(session, label)
        if issue is None:
            raise IssueError(
                f"there is no special issue {label}; create it with `newsletter issue special`"
            )
        return Period(label, issue.window_end, issue.window_start, issue.window_end)


def classify_stored(app: App, session: Session, pairs: list[tuple[Item, Feed]]) -> None:
    """Re-read stored items with the current rules and model (editors may have changed
    feeds.yaml, or trained a new model)."""
    changes = []
    rules = reading_rules(app.config, model_path(app))
    tz = app.config.newsletter.tz
    # The feed prior pulls a score towards the mean of the feed's items read with it: always the
    # feed's items of the same issue period, whichever command reads them, so an item's reading
    # does not depend on the caller's window (as long as it covers the period).
    nl = app.config.newsletter
    by_feed: dict[tuple[int, str], list[tuple[Item, Feed]]] = {}
    for item, feed in pairs:
        period = period_containing(item.published, nl.schedule.weekday, nl.schedule.at, nl.tz)
        by_feed.setdefault((feed.id or 0, period.label), []).append((item, feed))
    readings: dict[int, Reading] = {}
    for group in by_feed.values():
        feed = group[0][1]
        texts = [(i.title, i.summary_text, i.language, i.published) for i, _ in group]
        rules_of_feed = feed_rules(app.feeds_by_name.get(feed.name), feed.name, feed.section)
        for (item, _), reading in zip(
            group, read_feed_items(rules, rules_of_feed, texts, tz), strict=True
        ):
            readings[id(item)] = reading
    for item, _feed in pairs:
        reading = readings[id(item)]
        new = (reading.section, reading.reason, reading.facts, reading.relevance, reading.suggested)
        old = (
            item.section,
            item.section_reason,
            item.facts or {},
            item.relevance,
            item.suggested_section,
        )
        if new != old:
            (
                item.section,
                item.section_reason,
                item.facts,
                item.relevance,
                item.suggested_section,
            ) = new
            changes.append(
                ItemReading(
                    item.id or 0,
                    reading.section,
                    reading.reason,
                    reading.facts,
                    reading.relevance,
                    reading.suggested,
                )
            )
    if changes:
        items.set_readings(session, changes)


def candidates(
    app: App, session: Session, period: Period, also: frozenset[int] = frozenset()
) -> list[Candidate]:
    """Stored items published in the period (and the ``also`` items, such as pins from outside
    it), classified with the current rules."""
    pairs = items.items_between(session, period.start, period.end)
    have = {item.id for item, _ in pairs}
    pairs += items.items_by_id(session, also - {i for i in have if i is not None})
    classify_stored(app, session, pairs)
    weights = {f.name: f.weight for f in app.config.feeds}
    enabled = {f.name for f in app.config.feeds if f.enabled}
    known_sections = set(app.config.section_ids)
    result = []
    for item, feed in pairs:
        if feed.name not in enabled:
            continue  # removed from feeds.yaml or disabled: its stories leave the next issue too
        # None: left out by the relevance rules or model; a section gone from feeds.yaml: the
        # feed's default section.
        section = (
            None
            if item.section is None
            else item.section
            if item.section in known_sections
            else feed.section
        )
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
                relevance=item.relevance,
                suggested=item.suggested_section,
                date_unknown=item.published_source == "first_seen",
            )
        )
    return result


def build_issue(
    app: App, period: Period, *, render: bool = True, force: bool = False
) -> BuiltIssue:
    """The issue of a period. Frozen issues come back as stored; others are rebuilt (with the
    editor's pins, drops and moves, key points and viewpoint) and saved as a draft."""
    app.reload_config_if_changed()  # a feed the workbench disabled in another web worker
    with session_scope(app.engine) as session:
        existing = issues.get_issue(session, period.label)
        if existing is not None and (
            existing.status in FROZEN or (existing.status == IssueStatus.APPROVED and existing.html)
        ):
            # Sent, sending, or approved: the issue is what it was when frozen or approved.
            return _frozen(app, period, existing)
        choices = issues.editor_choices(session, period.label)
        pool = candidates(app, session, period, frozenset(choices.pins))
        special = is_special(period.label)
        # A special issue has no number (it does not move the weekly ones) but a title.
        number = None if special else issues.issue_number(session, period.start)
        title = issues.special_title(session, period.label) if special else None
        content = assemble_issue(app.config, period, pool, choices, number, title)
        written = issues.viewpoint_text(session, period.label)
    # Network and file reads happen outside any database transaction.
    content = _with_key_points(app, content)
    content = _with_viewpoint(app, content, written)
    rendered: RenderedIssue | None = None
    warnings: list[str] = []
    if render and (not content.skipped_reason or force):
        env = make_environment(app.config.templates_dir, app.render_limits())
        rendered, content = render_issue(env, content, app.render_options())
        warnings = list(rendered.warnings)
    with session_scope(app.engine) as session:
        issue = issues.get_or_create_issue(session, period.label, period.start, period.end)
        if issue.status in FROZEN:  # another process froze it meanwhile: show what it froze
            return _frozen(app, period, issue)
        _save_draft(issue, content, rendered)
        issues.save_issue(session, issue)
        return BuiltIssue(period, content, rendered, issue.status, warnings)


def _frozen(app: App, period: Period, issue: Issue) -> BuiltIssue:
    """A frozen issue exactly as stored (its calendar files are derived from its content)."""
    content = IssueContent.from_dict(issue.content)
    nl = app.config.newsletter
    attachments = calendar_attachments(content, nl.sender.domain) if nl.calendar_attachments else []
    rendered = RenderedIssue(issue.html or "", issue.text or "", attachments=attachments)
    return BuiltIssue(period, content, rendered, issue.status)


KEY_POINT_SECTIONS = {"hot_topics": 1, "reports": 100}  # section -> how many of its items get them


def _with_key_points(app: App, content: IssueContent) -> IssueContent:
    """Key points, and a brief when the text is long enough, for the top story and the
    in-depth reports, from the article when there is one."""
    wanted = [
        item
        for section in content.sections
        for item in section.items[: KEY_POINT_SECTIONS.get(section.id, 0)]
    ]
    if not wanted:
        return content
    articles = ensure_articles(app, [i for item in wanted for i in (item.id, *item.related_ids)])
    points: dict[int, tuple[list[dict[str, Any]], str]] = {}
    briefs: dict[int, Brief] = {}
    for item in wanted:
        # The lead's article, else the article of another report of the same story, else the
        # full feed text (long-form feeds carry the article itself).
        found = next((articles[i] for i in (item.id, *item.related_ids) if articles.get(i)), None)
        if found:
            blocks, source = found
        else:
            paragraphs = split_paragraphs(item.summary) or [item.summary]
            blocks, source = [TextBlock(p) for p in paragraphs], "summary"
        extracted = key_points(body_paragraphs(blocks), item.language, title=item.title)
        if len(extracted) >= 2:
            points[item.id] = ([p.to_dict() for p in extracted], source)
            found_brief = brief(blocks, item.language, title=item.title)
            if found_brief is not None:
                briefs[item.id] = found_brief
    return with_briefs(with_key_points(content, points), briefs)


WORKBENCH_VIEWPOINT = "workbench"


def _with_viewpoint(app: App, content: IssueContent, written: str | None = None) -> IssueContent:
    """The editor's viewpoint for the period, rendered safely: the one written in the workbench
    when there is one, else the file editorial/2026-W48.md."""
    if written is not None:
        return replace(
            content,
            viewpoint_html=markdown_to_html(written),
            viewpoint_text=written.strip(),
            viewpoint_source=WORKBENCH_VIEWPOINT,
        )
    path = app.config.editorial_dir / f"{content.period}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return content
    except (OSError, UnicodeDecodeError) as exc:
        raise IssueError(f"cannot read the viewpoint {path}: {exc}") from exc
    return replace(
        content,
        viewpoint_html=markdown_to_html(text),
        viewpoint_text=text.strip(),
        viewpoint_source=path.name,
    )


def _save_draft(issue: Issue, content: IssueContent, rendered: RenderedIssue | None) -> None:
    issue.subject = content.subject
    issue.content = content.to_dict()
    issue.skipped_reason = content.skipped_reason
    if rendered is not None:
        issue.html, issue.text = rendered.html, rendered.text
    issue.updated_at = utcnow()
