"""Pure issue assembly: pick a period's items, drop duplicate stories, rank, cap, decide to skip."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from newsletter.config import Config
from newsletter.content import IssueContent, IssueItem, IssueSection
from newsletter.periods import Period
from newsletter.text import shorten, title_fingerprint

SUMMARY_CHARS = 280


@dataclass(frozen=True)
class Candidate:
    """A stored item offered to the assembler, with its feed's name and weight."""

    id: int
    feed: str
    weight: float
    title: str
    url: str | None
    summary: str
    published: datetime
    language: str
    section: str
    reason: str


def fill_placeholders(template: str, values: dict[str, str]) -> str:
    """Replace {name} placeholders; unknown ones stay as written (no str.format attribute access)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def score(candidate: Candidate, period: Period) -> float:
    """Feed weight scaled by freshness: weight x (0.5 + 0.5 x position of publication in the window)."""
    span = (period.end - period.start).total_seconds() or 1.0
    freshness = (candidate.published - period.start).total_seconds() / span
    freshness = min(1.0, max(0.0, freshness))
    return round(candidate.weight * (0.5 + 0.5 * freshness), 6)


def _dedupe(candidates: list[Candidate]) -> tuple[list[tuple[Candidate, list[Candidate]]], int]:
    """Group the same story (same canonical link or same normalized title); keep the heaviest source."""
    order = sorted(candidates, key=lambda c: (-c.weight, c.published, c.id))
    groups: list[tuple[Candidate, list[Candidate]]] = []
    by_key: dict[str, int] = {}
    dropped = 0
    for candidate in order:
        fingerprint = title_fingerprint(candidate.title)
        # A title of only punctuation, emoji or a prefix like "【直播】" says nothing about the story.
        keys = [f"t:{fingerprint}"] if fingerprint else []
        if candidate.url:
            keys.append(f"u:{candidate.url}")
        found = next((by_key[k] for k in keys if k in by_key), None)
        if found is None:
            groups.append((candidate, []))
            index = len(groups) - 1
        else:
            index = found
            if candidate.feed != groups[index][0].feed:
                groups[index][1].append(candidate)
            dropped += 1
        for k in keys:
            by_key.setdefault(k, index)
    return groups, dropped


def assemble_issue(config: Config, period: Period, candidates: list[Candidate]) -> IssueContent:
    """Build the content of one issue from the candidates published in the period."""
    in_window = [c for c in candidates if period.contains(c.published)]
    groups, dropped = _dedupe(in_window)
    by_section: dict[str, list[tuple[float, Candidate, list[Candidate]]]] = {}
    for lead, others in groups:
        by_section.setdefault(lead.section, []).append((score(lead, period), lead, others))
    sections: list[IssueSection] = []
    for section in config.sections:
        ranked = sorted(
            by_section.get(section.id, []),
            key=lambda t: (-t[0], -t[1].published.timestamp(), t[1].id),
        )
        items = [
            IssueItem(
                id=lead.id,
                title=lead.title,
                url=lead.url,
                summary=shorten(lead.summary, SUMMARY_CHARS),
                source=lead.feed,
                published=lead.published.isoformat(),
                language=lead.language,
                section_reason=lead.reason,
                score=value,
                also_reported_by=[{"source": o.feed, "url": o.url} for o in others],
            )
            for value, lead, others in ranked[: section.max_items]
        ]
        sections.append(IssueSection(section.id, section.title, items, available=len(ranked)))
    total = sum(len(s.items) for s in sections)
    nl = config.newsletter
    local_end = period.end.astimezone(nl.tz)
    period_label = f"{period.label} · {local_end:%Y-%m-%d}"
    first_titles = [s.items[0].title for s in sections if s.items][:3]
    subject = fill_placeholders(
        nl.subject,
        {
            "title": nl.title,
            "period": period.label,
            "period_label": period_label,
            "date": f"{local_end:%Y-%m-%d}",
            "top_title": first_titles[0] if first_titles else "",
        },
    )
    preheader = nl.preheader or shorten(" | ".join(first_titles), 140)
    skipped = None
    if total < nl.min_items:
        skipped = (
            f"only {total} item(s) published in {period.label} "
            f"({period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC); "
            f"newsletter.min_items in {config.path.name} is {nl.min_items}"
        )
    return IssueContent(
        period=period.label,
        window_start=period.start.isoformat(),
        window_end=period.end.isoformat(),
        title=nl.title,
        subject=" ".join(subject.split())[:300],
        preheader=preheader,
        sections=sections,
        item_count=total,
        duplicates_dropped=dropped,
        skipped_reason=skipped,
    )


__all__ = ["Candidate", "IssueContent", "IssueItem", "IssueSection", "assemble_issue", "score"]
