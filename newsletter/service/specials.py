"""One-off special issues: a named period (``special-2026-asco``) beside the weekly ones, with
its own window of whole days and its own title.

A special issue is an issue row like a weekly one (so it builds, previews, is approved and
sent the same way, once: the period key is unique); the log entry that created it keeps its
title and who made it. It has no issue number, so the weekly numbering stays as it is. It is
never sent unapproved: the scheduler sends an approved special issue at the first poll after
its window has ended (or `newsletter send --week special-...` sends it at once)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from newsletter.domain.periods import Period, special_label, special_period
from newsletter.domain.statuses import IssueStatus
from newsletter.errors import IssueError
from newsletter.service.app import App
from newsletter.service.sending import SendReport, send_issue
from newsletter.storage.db import session_scope
from newsletter.storage.models import IssueAction
from newsletter.storage.queries import issues

log = logging.getLogger(__name__)
MAX_TITLE = 120


@dataclass(frozen=True)
class SpecialIssue:
    """A special issue: its label, title, window (UTC) and status."""

    period: str
    title: str
    start: datetime
    end: datetime
    status: str

    def days(self, tz: ZoneInfo) -> tuple[date, date]:
        """The first and last local day of the items it covers."""
        return self.start.astimezone(tz).date(), (
            self.end.astimezone(tz) - timedelta(days=1)
        ).date()


def checked_title(title: str) -> str:
    """A special issue's title: one line (it goes into the subject), 1 to 120 characters."""
    cleaned = " ".join(title.split())
    if not cleaned:
        raise IssueError("title: enter a title, like ASCO 2026")
    if len(cleaned) > MAX_TITLE:
        raise IssueError(f"title: at most {MAX_TITLE} characters")
    if "=?" in cleaned:  # CVE-2024-6923: no encoded-word syntax in a header
        raise IssueError("title: must not contain '=?'")
    return cleaned


def create_special_issue(
    app: App, name: str, first_day: date, last_day: date, title: str, actor: str | None
) -> SpecialIssue:
    """Create a special issue's draft for the items published from ``first_day`` to
    ``last_day`` (local dates, both included). IssueError when the name is taken."""
    label = special_label(name)
    clean_title = checked_title(title)
    period = special_period(label, first_day, last_day, app.config.newsletter.tz)
    with session_scope(app.engine) as session:
        if issues.get_issue(session, label) is not None:
            raise IssueError(f"name: a special issue {label} exists already; choose another name")
        issue = issues.get_or_create_issue(session, label, period.start, period.end)
        issues.add_action(
            session,
            IssueAction(period=label, action=issues.SPECIAL_ACTION, note=clean_title, actor=actor),
        )
        status = issue.status
    log.info("special issue %s (%s) created by %s", label, clean_title, actor or "the CLI")
    return SpecialIssue(label, clean_title, period.start, period.end, status)


def special_issues(app: App) -> list[SpecialIssue]:
    """Every special issue, the latest window first."""
    with session_scope(app.engine) as session:
        titles = issues.special_titles(session)
        return [
            SpecialIssue(i.period, titles.get(i.period, ""), i.window_start, i.window_end, i.status)
            for i in issues.special_issues(session)
        ]


def send_due_specials(app: App, now: datetime) -> list[SendReport]:
    """Send every approved special issue whose window has ended (the scheduler's poll calls
    this); drafts and held ones wait for an editor."""
    with session_scope(app.engine) as session:
        due = [
            Period(i.period, i.window_end, i.window_start, i.window_end)
            for i in issues.special_issues(session)
            if i.status == IssueStatus.APPROVED and i.window_end <= now
        ]
    reports = []
    for period in due:
        report = send_issue(app, period)
        log.info("special issue %s: %s, %d sent", period.label, report.status, report.sent)
        reports.append(report)
    return reports


__all__ = [
    "SpecialIssue",
    "checked_title",
    "create_special_issue",
    "send_due_specials",
    "special_issues",
]
