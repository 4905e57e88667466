"""The editors' preview: the next issue as it would be sent, thin sections and failing feeds,
behind a secret token."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from newsletter.domain.statuses import FeedStatus
from newsletter.email.render import html_values, personalize, preview_values
from newsletter.service.app import App
from newsletter.service.archive import IssueSummary, recent_issues
from newsletter.service.catalog import feed_health
from newsletter.service.issues import build_issue, resolve_period

THIN_BELOW = 2  # a section with fewer items than this is flagged as thin


@dataclass(frozen=True)
class SectionHealth:
    """How many items a section of the next issue has."""

    id: str
    title: str
    count: int
    available: int

    @property
    def is_empty(self) -> bool:
        """No item at all."""
        return self.count == 0

    @property
    def is_thin(self) -> bool:
        """Fewer items than THIN_BELOW (empty ones included)."""
        return self.count < THIN_BELOW


@dataclass(frozen=True)
class FeedProblem:
    """A feed that failed on its last poll, or is disabled."""

    name: str
    status: str
    last_error: str | None
    consecutive_failures: int
    last_success_at: str | None


@dataclass
class IssuePreview:
    """The next issue as it would be sent, with what an editor should check before it goes."""

    period: str
    status: str
    subject: str
    item_count: int
    html: str | None
    text: str | None
    skipped_reason: str | None
    warnings: list[str] = field(default_factory=list)
    sections: list[SectionHealth] = field(default_factory=list)
    feeds_total: int = 0
    feeds_never_fetched: int = 0
    feed_problems: list[FeedProblem] = field(default_factory=list)
    recent: list[IssueSummary] = field(default_factory=list)
    left_out: int = 0  # items of the period the relevance rules or model left out
    left_out_reasons: list[list[Any]] = field(default_factory=list)  # [reason, count]

    @property
    def thin_sections(self) -> list[SectionHealth]:
        """Sections with fewer than THIN_BELOW items."""
        return [s for s in self.sections if s.is_thin]


def preview_token(app: App) -> str:
    """NEWSLETTER_PREVIEW_TOKEN (when not empty), else one derived from the secret key (stable
    across restarts and processes, different from every other use of the key)."""
    configured = app.settings.preview_token
    if configured is not None and configured.get_secret_value().strip():
        return configured.get_secret_value().strip()
    return hmac.new(app.secret(), b"preview", hashlib.sha256).hexdigest()[:32]


def is_preview_token(app: App, candidate: str | None) -> bool:
    """Whether a presented token is the preview token (constant-time comparison)."""
    if not candidate:
        return False
    return hmac.compare_digest(candidate.encode("utf-8"), preview_token(app).encode("utf-8"))


def next_issue_preview(app: App, now: datetime | None = None) -> IssuePreview:
    """Build (and keep as the draft) the next issue, rendered even when it would be skipped,
    with its sections' sizes, the feeds that fail and the latest issues."""
    period = resolve_period(app, now=now)
    built = build_issue(app, period, force=True)
    content = built.content
    counts = {s.id: (len(s.items), s.available) for s in content.sections}
    sections = [
        SectionHealth(s.id, s.title, *counts.get(s.id, (0, 0))) for s in app.config.sections
    ]
    health = feed_health(app)
    problems = [
        FeedProblem(
            name=row.name,
            status=row.status,
            last_error=row.last_error,
            consecutive_failures=row.consecutive_failures,
            last_success_at=row.last_success_at,
        )
        for row in health
        if row.status in (FeedStatus.ERROR, "disabled") or row.consecutive_failures
    ]
    values = preview_values(app.settings.base_url)
    rendered = built.rendered
    return IssuePreview(
        period=period.label,
        status=built.status,
        subject=content.subject,
        item_count=content.item_count,
        html=personalize(rendered.html, html_values(values)) if rendered else None,
        text=personalize(rendered.text, values) if rendered else None,
        skipped_reason=content.skipped_reason,
        warnings=list(built.warnings),
        sections=sections,
        feeds_total=len(health),
        feeds_never_fetched=sum(1 for row in health if row.status == FeedStatus.NEVER),
        feed_problems=problems,
        recent=recent_issues(app),
        left_out=content.left_out,
        left_out_reasons=content.left_out_reasons,
    )


__all__ = [
    "THIN_BELOW",
    "FeedProblem",
    "IssuePreview",
    "SectionHealth",
    "is_preview_token",
    "next_issue_preview",
    "preview_token",
]
