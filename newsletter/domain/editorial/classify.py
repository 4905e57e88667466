"""One item's editorial reading: its facts (financing, event) and the section they decide.

Order of decisions, each with its reason:
1. a funding announcement goes to the financing section;
2. an upcoming-event announcement with a date goes to the events section;
3. an item from a feed marked ``report: true``, or a long-form item, goes to the in-depth
   report section;
4. otherwise the keyword and pattern rules of feeds.yaml, then the feed's default section.
Only the item's own text and publication date are used, so the result never depends on the
day it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from newsletter.config import SectionConfig
from newsletter.domain.editorial.events import detect_event
from newsletter.domain.editorial.financing import detect_financing
from newsletter.domain.editorial.sections import place_item

LONG_FORM_CHARS = 1500
FINANCING, EVENTS, REPORTS = "financing", "events", "reports"


@dataclass(frozen=True)
class Reading:
    """Section, reason and facts of one item."""

    section: str
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)


def read_item(
    title: str,
    summary: str,
    lang: str,
    published: date,
    feed_name: str,
    feed_section: str,
    feed_is_report: bool,
    rule_order: tuple[SectionConfig, ...],
) -> Reading:
    """Facts and section of an item (pure)."""
    section_ids = {s.id for s in rule_order}
    facts: dict[str, Any] = {}
    financing = detect_financing(title, summary, lang)
    if financing is not None:
        facts["financing"] = financing.to_dict()
    event = detect_event(title, summary, lang, published)
    if event is not None and financing is None:
        facts["event"] = event.to_dict()
    if financing is not None and FINANCING in section_ids:
        amount = financing.amount.text if financing.amount else "amount undisclosed"
        return Reading(FINANCING, f"funding announcement: round {financing.round}, {amount}", facts)
    if (
        event is not None
        and event.start is not None
        and financing is None
        and EVENTS in section_ids
    ):
        # An invitation without a date cannot be listed as upcoming: the rules place it.
        return Reading(EVENTS, f"upcoming event on {event.start.isoformat()}", facts)
    if REPORTS in section_ids and feed_is_report:
        return Reading(REPORTS, f"feed {feed_name!r} is marked as reports", facts)
    if REPORTS in section_ids and len(summary) >= LONG_FORM_CHARS:
        return Reading(REPORTS, f"long-form item ({len(summary)} characters)", facts)
    placement = place_item(title, summary, feed_name, feed_section, rule_order)
    return Reading(placement.section, placement.reason, facts)
