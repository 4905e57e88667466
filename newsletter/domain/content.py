"""The content of one issue: plain dataclasses passed from assembly to rendering and sending."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from newsletter.domain.editorial.brief import Brief
from newsletter.domain.overrides import ItemEdit


@dataclass(frozen=True)
class EditorChoices:
    """An editor's decisions for one issue: pinned items (optionally into a section), dropped
    items, and items moved to another section."""

    pins: dict[int, str | None] = field(default_factory=dict)
    drops: frozenset[int] = frozenset()
    moves: dict[int, str] = field(default_factory=dict)
    restores: dict[int, str | None] = field(default_factory=dict)  # left-out items brought back
    edits: dict[int, ItemEdit] = field(default_factory=dict)  # per-issue text, facts, positions


@dataclass(frozen=True)
class IssueItem:
    """An item as it appears in an issue."""

    id: int
    title: str
    url: str | None
    summary: str
    source: str
    published: str  # ISO 8601, UTC
    language: str
    section_reason: str
    score: float
    also_reported_by: list[dict[str, str | None]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    cluster: str | None = None
    related_ids: list[int] = field(default_factory=list)  # the other items of the same story
    sources: int = 1
    pinned: bool = False
    key_points: list[dict[str, Any]] = field(default_factory=list)
    key_points_source: str | None = None  # "article" or "summary"
    brief: Brief | None = None  # core insights and themed groups of points (editorial/brief.py)
    relevance: float | None = None  # the relevance model's score (None: no model)
    date_unknown: bool = False  # the feed gave no readable date: first seen is used
    blurb: str | None = None  # the editor's short note on the item, for this issue
    edited: list[str] = field(default_factory=list)  # what the editor overrode for this issue


@dataclass(frozen=True)
class IssueSection:
    """One section of an issue, items in display order."""

    id: str
    title: str
    items: list[IssueItem]
    available: int  # items that qualified before the cap
    titles: dict[str, str] = field(default_factory=dict)  # language -> title in that edition


@dataclass(frozen=True)
class IssueContent:
    """Everything needed to render and send one issue; also its JSON form."""

    period: str
    window_start: str
    window_end: str
    title: str
    subject: str
    preheader: str
    sections: list[IssueSection]
    item_count: int
    duplicates_dropped: int
    skipped_reason: str | None = None
    viewpoint_html: str | None = None
    viewpoint_text: str | None = None
    viewpoint_source: str | None = None
    financing_totals: list[dict[str, Any]] = field(default_factory=list)
    issue_date: str | None = None  # local date of the send time, YYYY-MM-DD
    left_out: int = 0  # items of the period left out by the relevance rules or model
    left_out_reasons: list[list[Any]] = field(default_factory=list)  # [reason, count], top first
    number: int | None = None  # the issue's number for readers (1 for the first sent issue)
    issue_label: str = ""
    titles: dict[str, str] = field(
        default_factory=dict
    )  # language -> newsletter title  # what readers see: "No. 12 · 7 December 2026" / "第12期 · 2026年12月7日"
    special_title: str | None = None  # a special issue's title ("ASCO 2026"); None: weekly

    def to_dict(self) -> dict[str, Any]:
        """The JSON-serializable form (documented in docs/issue-json.md)."""
        data: dict[str, Any] = _json_form(asdict(self))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssueContent:
        """Rebuild frozen content stored with an issue."""
        sections = [
            IssueSection(
                id=s["id"],
                title=s["title"],
                items=[_item(i) for i in s["items"]],
                available=s["available"],
                titles=s.get("titles") or {},
            )
            for s in data["sections"]
        ]
        return cls(**{**data, "sections": sections})


def _json_form(value: Any) -> Any:
    """asdict's output with tuples as lists (a brief's points), as JSON reads them back."""
    if isinstance(value, dict):
        return {k: _json_form(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_form(v) for v in value]
    return value


def _item(data: dict[str, Any]) -> IssueItem:
    """An item of stored content (its brief back to a Brief; older content has none)."""
    found = data.get("brief")
    return IssueItem(**{**data, "brief": Brief.from_dict(found) if found else None})
