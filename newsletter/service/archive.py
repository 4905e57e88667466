"""The archive of sent issues (index, one page per issue, Atom feed) and the editors' list of
issues (per-issue statistics are in newsletter.service.stats).

An archived issue is the HTML exactly as it was frozen, with the personal markers replaced by
neutral values: nothing of any one subscriber is on a public page.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsletter.domain.content import IssueContent
from newsletter.domain.periods import any_period_label
from newsletter.domain.statuses import FROZEN, DeliveryStatus, IssueStatus
from newsletter.email.calendar import event_calendar
from newsletter.email.render import html_values, marker_values, personalize
from newsletter.email.urls import archive_url, subscribe_url
from newsletter.errors import IssueError
from newsletter.service.app import App
from newsletter.storage.db import available_session
from newsletter.storage.models import utcnow
from newsletter.storage.queries import issues

ATOM_NS = "http://www.w3.org/2005/Atom"
DELIVERY_STATUSES = (
    DeliveryStatus.SENT,
    DeliveryStatus.FAILED,
    DeliveryStatus.BOUNCED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.QUEUED,
)
_ANY_MARKER = re.compile(r"%%[A-Z_]{1,40}%%")
# Characters XML 1.0 cannot carry at all (ElementTree would write them and break the feed).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class IssueNotFoundError(IssueError):
    """No issue of that period, or not one that was sent."""


@dataclass(frozen=True)
class ArchiveEntry:
    """One sent issue in the archive index."""

    period: str
    subject: str
    sent_at: datetime
    item_count: int
    titles: tuple[str, ...]  # the first stories, for the feed summary


@dataclass(frozen=True)
class IssueSummary:
    """One issue of any status, for the editors' list."""

    period: str
    status: str
    subject: str
    sent_at: datetime | None


def is_period(value: str) -> bool:
    """Whether a path segment is an ISO week label such as 2026-W47, or a special issue's
    label such as special-2026-asco."""
    return any_period_label(value)


def _titles(content: dict[str, Any], limit: int = 5) -> tuple[str, ...]:
    titles: list[str] = []
    for section in content.get("sections") or []:
        for item in section.get("items") or []:
            if len(titles) < limit and isinstance(item.get("title"), str):
                titles.append(item["title"])
    return tuple(titles)


def sent_issues(app: App, limit: int | None = None) -> list[ArchiveEntry]:
    """Sent issues, newest first."""
    with available_session(app.engine) as session:
        return [
            ArchiveEntry(
                period=issue.period,
                subject=issue.subject,
                sent_at=issue.sent_at or issue.frozen_at or issue.updated_at,
                item_count=int((issue.content or {}).get("item_count") or 0),
                titles=_titles(issue.content or {}),
            )
            for issue in issues.latest_issues(session, limit, IssueStatus.SENT)
        ]


def neutral_values(app: App) -> dict[str, str]:
    """What the personal markers become on a public page (plain text; escape for HTML)."""
    subscribe = subscribe_url(app.settings.base_url)
    return marker_values(subscribe, subscribe, "your address")


def archive_html(app: App, period: str) -> str:
    """The sent issue's HTML for the web, without anything personal. IssueNotFoundError."""
    if not is_period(period):
        raise IssueNotFoundError(f"{period[:20]!r} is not an issue period like 2026-W47")
    with available_session(app.engine) as session:
        issue = issues.get_issue(session, period)
        if issue is None or issue.status != IssueStatus.SENT or not issue.html:
            raise IssueNotFoundError(f"no sent issue {period}")
        html = issue.html
    # Any other marker (a click link's subscriber marker) becomes empty: anonymous.
    return _ANY_MARKER.sub("", personalize(html, html_values(neutral_values(app))))


def event_calendar_file(app: App, period: str, item_id: int) -> bytes:
    """The calendar file of an upcoming event of an issue that went out (the "Add to calendar"
    link of its emails). IssueNotFoundError for anything else."""
    if not is_period(period):
        raise IssueNotFoundError(f"{period[:20]!r} is not an issue period like 2026-W47")
    with available_session(app.engine) as session:
        issue = issues.get_issue(session, period)
        if issue is None or issue.status not in FROZEN or not issue.content:
            raise IssueNotFoundError(f"no issue {period} has gone out")
        content = IssueContent.from_dict(issue.content)
    data = event_calendar(content, item_id, app.config.newsletter.sender.domain)
    if data is None:
        raise IssueNotFoundError(f"issue {period} has no upcoming event {item_id}")
    return data


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def archive_atom(app: App, limit: int = 50) -> bytes:
    """An Atom feed (RFC 4287) of the sent issues, newest first, as UTF-8 XML."""
    base = app.settings.base_url
    entries = sent_issues(app, limit)
    title = app.config.newsletter.title
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = _xml_text(text)
        return element

    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", archive_url(base))
    sub(feed, "title", f"{title} archive")
    sub(feed, "updated", _iso(entries[0].sent_at if entries else utcnow()))
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/archive.atom")
    sub(feed, "link", rel="alternate", type="text/html", href=archive_url(base))
    author = sub(feed, "author")
    sub(author, "name", app.config.newsletter.sender.name)
    for entry in entries:
        url = archive_url(base, entry.period)
        node = sub(feed, "entry")
        sub(node, "id", url)
        sub(node, "title", entry.subject or f"{title} {entry.period}")
        sub(node, "updated", _iso(entry.sent_at))
        sub(node, "published", _iso(entry.sent_at))
        sub(node, "link", rel="alternate", type="text/html", href=url)
        summary = f"{entry.item_count} stories"
        if entry.titles:
            summary += ": " + "; ".join(entry.titles)
        sub(node, "summary", summary, type="text")
    data: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return data


# ---- statistics ----------------------------------------------------------------------------


def recent_issues(app: App, limit: int = 10) -> list[IssueSummary]:
    """The latest issues of any status, newest period first."""
    with available_session(app.engine) as session:
        return [
            IssueSummary(i.period, i.status, i.subject, i.sent_at)
            for i in issues.latest_issues(session, limit)
        ]


__all__ = [
    "ArchiveEntry",
    "IssueNotFoundError",
    "IssueSummary",
    "archive_atom",
    "archive_html",
    "is_period",
    "recent_issues",
    "sent_issues",
]
