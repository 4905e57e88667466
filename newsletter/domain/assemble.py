"""Pure issue assembly: pick a period's items, merge each story's reports, rank, cap, skip.

Ranking within a section (docs/editorial.md):

    score = weight x (0.5 + 0.5 x freshness) x (1 + 0.25 x (sources - 1)) x (0.5 + 0.5 x relevance)

where ``weight`` is the lead source's feed weight, ``freshness`` the position of publication in
the issue window (0 at its start, 1 at its end), ``sources`` the number of feeds that carried
the story and ``relevance`` the relevance model's score (1 without a model). Pinned items come
first; items whose date is unknown (first seen was used) come after every dated item and never
lead the hot topics; ties go to the newer item, then the lower item id. At most
``topic.per_source_cap`` items of one feed are shown per section (pins aside). The events
section lists upcoming events only, soonest first.

Items the relevance rules or model left out (``section`` None) are not shown unless the editor
restores, pins or moves them (a restored item is kept like a pin); they are counted, with
their reasons, in ``left_out``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from newsletter.config import Config
from newsletter.domain.content import EditorChoices, IssueContent, IssueItem, IssueSection
from newsletter.domain.editorial.brief import Brief
from newsletter.domain.editorial.clusters import (
    cluster_ids,
    story_input,
)
from newsletter.domain.overrides import ItemEdit, order_by_position, with_edit
from newsletter.domain.periods import Period
from newsletter.domain.text import shorten, shorten_to_width

# How much of a summary an issue shows, in display columns: 280 characters of English, 140 of
# Chinese (each counts two), about the same three lines of a 640-pixel email either way.
SUMMARY_CHARS = 280
SOURCE_BONUS = 0.25
EVENTS, FINANCING, HOT_TOPICS = "events", "financing", "hot_topics"


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
    section: str | None  # None: left out by the relevance rules or model
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)
    relevance: float | None = None
    suggested: str | None = None  # the section it would have had, for a left-out item
    date_unknown: bool = False


def fill_placeholders(template: str, values: dict[str, str]) -> str:
    """Replace {name} placeholders; unknown ones stay as written (no str.format attribute access)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def freshness(candidate: Candidate, period: Period) -> float:
    """Where in the window the item was published: 0 at the start, 1 at the end."""
    span = (period.end - period.start).total_seconds() or 1.0
    value = (candidate.published - period.start).total_seconds() / span
    return min(1.0, max(0.0, value))


def score(candidate: Candidate, period: Period, sources: int = 1) -> float:
    """The ranking score (see the module docstring)."""
    value = candidate.weight * (0.5 + 0.5 * freshness(candidate, period))
    relevance = 1.0 if candidate.relevance is None else candidate.relevance
    return round(value * (1 + SOURCE_BONUS * (sources - 1)) * (0.5 + 0.5 * relevance), 6)


def reason_kind(reason: str) -> str:
    """A left-out reason without its score, for counting ("not relevant (score 0.12)")."""
    return reason.split(" (score", 1)[0]


@dataclass
class _Story:
    lead: Candidate
    others: list[Candidate]
    cluster: str
    pinned: bool
    members: list[int] = field(default_factory=list)

    @property
    def sources(self) -> int:
        return len({self.lead.feed, *(o.feed for o in self.others)})


def _stories(
    candidates: list[Candidate],
    pins: set[int],
    drops: frozenset[int] = frozenset(),
    restores: frozenset[int] = frozenset(),
) -> tuple[list[_Story], int]:
    """Merge each story's reports; the lead is pinned, else restored (a restored report is
    kept like a pin), else the heaviest, earliest source. A story with a report the editor
    dropped is dropped whole (unless the editor pinned or restored another of its reports):
    dropping a row never brings another outlet's report of it in."""
    pinned = pins | restores
    clusters = cluster_ids(
        [story_input(c.id, c.title, c.summary, c.url, c.facts) for c in candidates]
    )
    groups: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(clusters[candidate.id], []).append(candidate)
    stories = []
    for cluster, members in list(groups.items()):
        if any(m.id in drops for m in members):
            members = [m for m in members if m.id not in drops]
            if not any(m.id in pinned for m in members):
                del groups[cluster]
                continue
            groups[cluster] = members
        members.sort(
            key=lambda c: (c.id not in pins, c.id not in restores, -c.weight, c.published, c.id)
        )
        lead, rest = members[0], members[1:]
        others = []
        seen_feeds = {lead.feed}
        for other in rest:
            if other.feed not in seen_feeds:
                others.append(other)
                seen_feeds.add(other.feed)
        stories.append(_Story(lead, others, cluster, lead.id in pinned, [c.id for c in rest]))
    dropped = sum(len(members) - 1 for members in groups.values())
    return stories, dropped


def _capped(
    ranked: list[_Story], limit: int, per_source: int, *, lead_needs_date: bool
) -> list[_Story]:
    """The first ``limit`` stories, at most ``per_source`` from one feed; when the section
    leads the issue, its first story has a known date (an undated one is never the top story)."""
    shown: list[_Story] = []
    per_feed: Counter[str] = Counter()
    for story in ranked:
        if len(shown) >= limit:
            break
        if per_feed[story.lead.feed] >= per_source:
            continue
        if lead_needs_date and not shown and story.lead.date_unknown:
            continue
        shown.append(story)
        per_feed[story.lead.feed] += 1
    return shown


def _event_start(candidate: Candidate) -> date | None:
    start = (candidate.facts.get("event") or {}).get("start")
    return date.fromisoformat(start) if start else None


def _still_ahead(candidate: Candidate, issue_date: date) -> bool:
    """An event on or after the issue date (a month-only date: in this month or later), or an
    invitation whose date is to be announced."""
    event = candidate.facts.get("event")
    if not event:
        return False
    start = _event_start(candidate)
    if start is None:
        return True
    if event.get("precision") == "month":
        return (start.year, start.month) >= (issue_date.year, issue_date.month)
    return start >= issue_date


def financing_rows(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """The rounds an item's facts announce: the first, then any further deal of its title."""
    first = facts.get("financing")
    return [first, *(facts.get("financing_more") or [])] if first else []


def round_key(fin: dict[str, Any]) -> str | None:
    """One round across items: the company (case, width and spaces aside) and the round; None
    when no company is named (such rounds are never taken for one another)."""
    company = "".join(unicodedata.normalize("NFKC", str(fin.get("company") or "")).split())
    return f"{company.casefold()}|{fin.get('round')}" if company else None


def _table_rows(items: list[IssueItem], sector: str | None) -> list[IssueItem]:
    """The financing section as a table: one row per company and round. Each item keeps the
    rounds of its title that are in the topic's sector (an editor's round, without a sector,
    always is) and not already a row of an earlier item; an item with no new round is another
    outlet's report of rows already shown and joins their item's "also reported by"."""
    out: list[IssueItem] = []
    holder: dict[str, int] = {}
    for item in items:
        rows = financing_rows(item.facts)
        if not rows:
            out.append(item)
            continue
        in_topic = [r for r in rows if sector is None or r.get("sector", sector) == sector]
        keys = [round_key(r) for r in in_topic or rows[:1]]
        fresh = [r for r, k in zip(in_topic or rows[:1], keys, strict=True) if k not in holder]
        if not fresh:
            at = holder[str(keys[0])]
            lead = out[at]
            if item.source != lead.source and all(
                o.get("source") != item.source for o in lead.also_reported_by
            ):
                reported = [*lead.also_reported_by, {"source": item.source, "url": item.url}]
                out[at] = replace(lead, also_reported_by=reported, sources=lead.sources + 1)
            continue
        for key in keys:
            if key is not None:
                holder.setdefault(key, len(out))
        facts = {**item.facts, "financing": fresh[0]}
        facts.pop("financing_more", None)
        if len(fresh) > 1:
            facts["financing_more"] = fresh[1:]
        out.append(replace(item, facts=facts))
    return out


def _totals(items: list[IssueItem]) -> list[dict[str, Any]]:
    """The week's announced amounts per currency (open-ended amounts make the high end open),
    each round (company and round) counted once, however many items or deals name it."""
    totals: dict[str, dict[str, Any]] = {}
    counted: set[str] = set()
    rows = [fin for item in items for fin in financing_rows(item.facts)]
    for fin in rows:
        key = round_key(fin)
        if key is not None:
            if key in counted:
                continue
            counted.add(key)
        currency = fin.get("currency")
        if not currency or fin.get("amount_low") is None:
            continue
        entry = totals.setdefault(
            currency, {"currency": currency, "low": 0.0, "high": 0.0, "rounds": 0}
        )
        entry["low"] += fin["amount_low"]
        entry["high"] = (
            None
            if entry["high"] is None or fin.get("amount_high") is None
            else entry["high"] + fin["amount_high"]
        )
        entry["rounds"] += 1
    return sorted(totals.values(), key=lambda t: (-t["rounds"], t["currency"]))


MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def reader_date(day: date, language: str) -> str:
    """A date as readers write it: "7 December 2026", or "2026年12月7日" in Chinese."""
    if language.lower().startswith("zh"):
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def edition_title(titles: dict[str, str], title: str, language: str | None) -> str:
    """A title in one language's edition ({zh: 本周热点}), else the title as configured."""
    if not language:
        return title
    return titles.get(_primary(language), title)


def issue_label(
    number: int | None, day: date, language: str, special_title: str | None = None
) -> str:
    """How an issue names itself to readers: its number and date, never an ISO week; a
    special issue by its title and date."""
    when = reader_date(day, language)
    if special_title:
        return f"{special_title} · {when}"
    if number is None:
        return when
    if language.lower().startswith("zh"):
        return f"第{number}期 · {when}"
    return f"No. {number} · {when}"


def assemble_issue(
    config: Config,
    period: Period,
    candidates: list[Candidate],
    choices: EditorChoices | None = None,
    number: int | None = None,
    special_title: str | None = None,
) -> IssueContent:
    """Build the content of one issue from the candidates published in the period; ``number``
    is the issue's number for readers (None when unknown, as in a preview without a database,
    and for a special issue, which is named by ``special_title`` instead)."""
    choices = choices or EditorChoices()
    nl = config.newsletter
    issue_date = period.end.astimezone(nl.tz).date()
    known = set(config.section_ids)
    chosen: list[Candidate] = []
    dropped_by_editor: list[Candidate] = []
    left_out: Counter[str] = Counter()
    for c in candidates:
        if not (period.contains(c.published) or c.id in choices.pins):
            continue
        if c.id in choices.drops:
            dropped_by_editor.append(c)  # clustered, so that its story's other reports go too
            continue
        edit = choices.edits.get(c.id)
        if edit is not None and edit.changes_content:
            title, summary, facts = with_edit(edit, c.title, c.summary, c.facts)
            c = replace(c, title=title, summary=summary, facts=facts)
        target = choices.moves.get(c.id) or choices.pins.get(c.id) or choices.restores.get(c.id)
        if target and target in known:
            c = replace(c, section=target, reason=f"placed in {target} by the editor")
        elif c.section is None:
            editor = c.id in choices.pins or c.id in choices.moves or c.id in choices.restores
            if not editor:
                left_out[reason_kind(c.reason)] += 1
                continue
            restored = c.suggested if c.suggested in known else config.section_ids[0]
            c = replace(c, section=restored, reason=f"restored by the editor ({c.reason})")
        chosen.append(c)
    # A restored item is the editor's explicit choice: kept like a pin (first, over the caps),
    # or it could fall off a full section unseen.
    stories, dropped = _stories(
        chosen + dropped_by_editor,
        set(choices.pins),
        frozenset(c.id for c in dropped_by_editor),
        frozenset(choices.restores),
    )
    by_section: dict[str, list[_Story]] = {}
    for story in stories:
        by_section.setdefault(story.lead.section or "", []).append(story)
    sections: list[IssueSection] = []
    for section in config.sections:
        pool = by_section.get(section.id, [])
        if section.id == EVENTS:
            # Only events still ahead on the issue date (or placed here by the editor), soonest
            # first; invitations whose date is to be announced come after the dated ones.
            pool = [
                s
                for s in pool
                if s.pinned or s.lead.id in choices.moves or _still_ahead(s.lead, issue_date)
            ]
            ranked = sorted(
                pool,
                key=lambda s: (
                    not s.pinned,
                    _event_start(s.lead) or date.max,
                    -score(s.lead, period, s.sources),
                    s.lead.id,
                ),
            )
        else:
            ranked = sorted(
                pool,
                key=lambda s: (
                    not s.pinned,
                    s.lead.date_unknown,
                    -score(s.lead, period, s.sources),
                    -s.lead.published.timestamp(),
                    s.lead.id,
                ),
            )
        pinned = [s for s in ranked if s.pinned]
        shown = pinned + _capped(
            [s for s in ranked if not s.pinned],
            max(0, section.max_items - len(pinned)),
            config.topic.per_source_cap,
            lead_needs_date=section.id == HOT_TOPICS and not pinned,
        )
        positions = {
            s.lead.id: e.position
            for s in shown
            if (e := choices.edits.get(s.lead.id)) is not None and e.position is not None
        }
        if positions:
            at = {s.lead.id: s for s in shown}
            shown = [at[i] for i in order_by_position([s.lead.id for s in shown], positions)]
        items: list[IssueItem] = [
            IssueItem(
                id=s.lead.id,
                title=s.lead.title,
                url=s.lead.url,
                summary=_summary(s.lead.summary, choices.edits.get(s.lead.id)),
                source=s.lead.feed,
                published=s.lead.published.isoformat(),
                language=s.lead.language,
                section_reason=s.lead.reason,
                score=score(s.lead, period, s.sources),
                also_reported_by=[{"source": o.feed, "url": o.url} for o in s.others],
                facts=s.lead.facts,
                cluster=s.cluster,
                related_ids=s.members,
                sources=s.sources,
                # The editor's pin (a restored item is kept like one, but is not pinned: its
                # "Unpin" would undo nothing)
                pinned=s.lead.id in choices.pins,
                relevance=s.lead.relevance,
                date_unknown=s.lead.date_unknown,
                blurb=_blurb(choices.edits.get(s.lead.id)),
                edited=_edited(choices.edits.get(s.lead.id)),
            )
            for s in shown
        ]
        if section.id == FINANCING:
            items = _table_rows(items, config.topic.financing_sector)
        sections.append(
            IssueSection(
                section.id, section.title, items, available=len(ranked), titles=dict(section.titles)
            )
        )
    total = sum(len(s.items) for s in sections)
    local_end = period.end.astimezone(nl.tz)
    period_label = f"{period.label} · {local_end:%Y-%m-%d}"
    label = issue_label(number, local_end.date(), nl.language, special_title)
    first_titles = [s.items[0].title for s in sections if s.items][:3]
    subject = fill_placeholders(
        nl.subject,
        {
            "title": nl.title,
            "period": period.label,
            "period_label": period_label,
            "date": f"{local_end:%Y-%m-%d}",
            "date_label": reader_date(local_end.date(), nl.language),
            "number": "" if number is None else str(number),
            "issue_label": label,
            "top_title": first_titles[0] if first_titles else "",
        },
    )
    preheader = nl.preheader or shorten(" | ".join(first_titles), 140)
    skipped = None
    if total < nl.min_items:
        where = (
            f"in {config.path.name}"
            if "min_items" in nl.model_fields_set
            else f"the default; set it in {config.path.name}"
        )
        skipped = (
            f"only {total} item(s) published for issue {period.label} "
            f"({period.start:%Y-%m-%d %H:%M} to {period.end:%Y-%m-%d %H:%M} UTC); "
            f"newsletter.min_items is {nl.min_items} ({where})"
        )
    financing = next((s.items for s in sections if s.id == FINANCING), [])
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
        financing_totals=_totals(financing),
        issue_date=issue_date.isoformat(),
        left_out=sum(left_out.values()),
        left_out_reasons=[[r, n] for r, n in sorted(left_out.items(), key=lambda p: (-p[1], p[0]))],
        number=number,
        issue_label=label,
        titles=dict(nl.titles),
        special_title=special_title,
    )


def _summary(summary: str, edit: ItemEdit | None) -> str:
    """The summary as the issue shows it: cut to SUMMARY_CHARS columns, except an editor's own
    (at most SUMMARY_CHARS characters, written for the issue: shown whole, as before)."""
    if edit is not None and edit.summary:
        return summary
    return shorten_to_width(summary, SUMMARY_CHARS)


def _blurb(edit: ItemEdit | None) -> str | None:
    return edit.blurb if edit is not None else None


def _edited(edit: ItemEdit | None) -> list[str]:
    """The names of what an editor overrode on an item, for the workbench and the JSON."""
    if edit is None:
        return []
    names = [n for n in ("title", "summary", "blurb") if getattr(edit, n)]
    names += ["financing"] if edit.financing else []
    names += ["event"] if edit.event else []
    return names


def with_key_points(
    content: IssueContent, points: dict[int, tuple[list[dict[str, Any]], str]]
) -> IssueContent:
    """The content with key points (and where they came from) attached to the given items."""
    sections = [
        replace(
            s,
            items=[
                replace(i, key_points=points[i.id][0], key_points_source=points[i.id][1])
                if i.id in points
                else i
                for i in s.items
            ],
        )
        for s in content.sections
    ]
    return replace(content, sections=sections)


def with_briefs(content: IssueContent, briefs: dict[int, Brief]) -> IssueContent:
    """The content with a brief (editorial/brief.py) attached to the given items."""
    if not briefs:
        return content
    sections = [
        replace(s, items=[replace(i, brief=briefs[i.id]) if i.id in briefs else i for i in s.items])
        for s in content.sections
    ]
    return replace(content, sections=sections)


__all__ = [
    "Candidate",
    "EditorChoices",
    "IssueContent",
    "IssueItem",
    "IssueSection",
    "assemble_issue",
    "score",
    "with_briefs",
    "with_key_points",
]


def _primary(language: str) -> str:
    """The primary language subtag: "zh" for "zh-CN", "en" for "en-GB"."""
    return language.replace("_", "-").split("-")[0].lower()


def for_reader(
    content: IssueContent, sections: list[str] | None, language: str | None
) -> IssueContent:
    """The issue as one subscriber chose it: only their sections and their language (None: all).
    Financing totals are recomputed over what is left."""
    if not sections and not language:
        return content
    wanted = set(sections) if sections else None
    kept = [
        replace(
            s,
            items=[
                i for i in s.items if not language or _primary(i.language) == _primary(language)
            ],
        )
        for s in content.sections
        if wanted is None or s.id in wanted
    ]
    kept = [s for s in kept if s.items]
    financing = [i for s in kept if s.id == "financing" for i in s.items]
    label, subject = content.issue_label, content.subject
    if language and content.issue_date and label:
        # The number and date in the reader's language, in the subject too.
        label = issue_label(
            content.number,
            date.fromisoformat(content.issue_date),
            language,
            content.special_title,
        )
        subject = subject.replace(content.issue_label, label)
    title = edition_title(content.titles, content.title, language)
    if title != content.title:
        subject = subject.replace(content.title, title)
    return replace(
        content,
        sections=kept,
        item_count=sum(len(s.items) for s in kept),
        financing_totals=_totals(financing),
        issue_label=label,
        subject=subject,
    )
