"""One item's editorial reading: does it belong, its facts (financing, event), and its section.

Order of decisions, each with its reason (docs/editorial.md, "Relevance" and "Sections"):
1. facts: a funding round and an upcoming event are detected first (they are kept even on an
   item that is left out, so an editor who restores it sees them);
2. relevance: a hard exclude rule (the topic's, then the feed's ``exclude``, or a feed
   ``include`` filter that does not match) leaves the item out with the rule as its reason, and
   so does a funding round outside the topic's ``financing_sector`` (the detector's sector);
   otherwise the relevance model's score, below the threshold, leaves it out ("not relevant
   (score 0.12)"). An item left out has no section (``section`` is None) but keeps the section
   it would have had (``suggested``), for an editor's restore;
3. section: a funding announcement goes to financing; an upcoming event with a date to
   events; a feed marked ``report: true`` or a long-form item to the in-depth reports; then
   the keyword and pattern rules of feeds.yaml (the editor's); then the section model, when it
   is confident; then the feed's default section. A section whose ``exclude`` keywords match
   is skipped.
Only the item's own text and publication date are used, so the result never depends on the
day it runs.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from newsletter.config import SectionConfig, TopicConfig
from newsletter.domain.editorial.events import detect_event
from newsletter.domain.editorial.feedrules import FeedRules
from newsletter.domain.editorial.financing import detect_financings
from newsletter.domain.editorial.prefilter import ignorecase_fold
from newsletter.domain.editorial.sections import keyword_regex, place_item
from newsletter.domain.editorial.textmodel import (
    ReadingModel,
    Vector,
    repeats_title,
    smooth,
    top,
)

LONG_FORM_CHARS = 1500
FINANCING, EVENTS, REPORTS = "financing", "events", "reports"
# Sections only a detector (a funding round, an upcoming event) or long form fills: the
# events fallback never lands there.
SPECIAL = frozenset({FINANCING, EVENTS, REPORTS})
SECTION_CONFIDENCE = 0.5  # the section model decides when its best section has this probability
FAR_OFF = 0.5  # below this share of the threshold the section model is not asked
RULE_TEXT_CHARS = 2000
__all__ = ["FeedRules", "ItemText", "Reading", "ReadingRules", "read_item", "read_items"]


@dataclass(frozen=True)
class ReadingRules:
    """The newsletter-wide inputs of the reading: sections in rule order, topic, model."""

    rule_order: tuple[SectionConfig, ...]
    topic: TopicConfig = field(default_factory=TopicConfig)
    model: ReadingModel | None = None

    @property
    def threshold(self) -> float | None:
        """The relevance threshold: the topic's, else the model's; None when no model is used."""
        if self.model is None or not self.topic.use_model:
            return None
        if self.topic.relevance_threshold is not None:
            return self.topic.relevance_threshold
        return self.model.threshold


@dataclass(frozen=True)
class Reading:
    """Section (None: left out), reason, facts and relevance of one item."""

    section: str | None
    reason: str
    facts: dict[str, Any] = field(default_factory=dict)
    relevance: float | None = None  # the model's score, None when no model was used
    suggested: str | None = None  # the section the item would have, had it been relevant

    @property
    def relevant(self) -> bool:
        """Whether the item can appear in an issue without an editor restoring it."""
        return self.section is not None


@lru_cache(maxsize=256)
def _keyword_matcher(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = [f"(?P<k{i}>{keyword_regex(k)})" for i, k in enumerate(keywords)]
    return re.compile("|".join(parts), re.I) if parts else None


@lru_cache(maxsize=256)
def _keyword_needles(keywords: tuple[str, ...]) -> tuple[str, ...]:
    # A keyword can only match (case-insensitively) where its case-folded text is in the
    # case-folded text: a substring test first, as place_item does (the alternation costs
    # about 0.2 ms on a 500-character summary; the test a microsecond).
    return tuple(k.casefold() for k in keywords)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


def first_match(text: str, keywords: tuple[str, ...], patterns: tuple[str, ...] = ()) -> str | None:
    """The first keyword, then pattern (as written in feeds.yaml), found in the text, or None.
    Keywords are escaped and searched as one expression; each pattern is compiled on its own,
    as it was validated (its flags and groups are its own)."""
    matcher = _keyword_matcher(keywords)
    match = None
    if matcher is not None:
        folded = ignorecase_fold(text)
        if any(needle in folded for needle in _keyword_needles(keywords)):
            match = matcher.search(text)
    if match is not None and match.lastgroup is not None:
        return keywords[int(match.lastgroup[1:])]
    for pattern in patterns:
        if _pattern(pattern).search(text):
            return pattern
    return None


def _rule_texts(title: str, summary: str) -> list[str]:
    """The texts rules are tried on, each on its own: the title, and the summary unless it only
    repeats the title (title-only feeds)."""
    if summary and not repeats_title(title, summary):
        return [title, summary[:RULE_TEXT_CHARS]]
    return [title]


def _first_in(
    texts: list[str], keywords: tuple[str, ...], patterns: tuple[str, ...] = ()
) -> str | None:
    for text in texts:
        rule = first_match(text, keywords, patterns)
        if rule is not None:
            return rule
    return None


def exclusion(title: str, summary: str, feed: FeedRules, topic: TopicConfig) -> str | None:
    """Why a hard rule leaves the item out, or None."""
    texts = _rule_texts(title, summary)
    rule = _first_in(texts, topic.exclude, topic.exclude_patterns)
    if rule is not None:
        return f"excluded by rule {rule!r}"
    rule = _first_in(texts, feed.exclude)
    if rule is not None:
        return f"excluded by rule {rule!r} of feed {feed.name!r}"
    if feed.include and _first_in(texts, feed.include) is None:
        return f"not matched by the include filter of feed {feed.name!r}"
    return None


def _section(
    title: str,
    summary: str,
    feed: FeedRules,
    rules: ReadingRules,
    facts: dict[str, Any],
    financing_round: str | None,
    event_start: date | None,
    x: Vector | None,
) -> tuple[str, str]:
    """The section an item belongs in (if relevant) and why; ``x`` are the item's features for
    the section model (None: the model is not asked).

    The events section shows upcoming events only (domain/assemble.py): an item a keyword,
    pattern, feed default or the model would put there without an event found in it goes to
    the section it would get without the events section, where it is shown, instead of
    vanishing from the issue."""
    section, reason = _placement(
        title, summary, feed, rules, facts, financing_round, event_start, x, frozenset()
    )
    if section == EVENTS and "event" not in facts:
        other, why = _placement(
            title, summary, feed, rules, facts, financing_round, event_start, x, {EVENTS}
        )
        texts = _rule_texts(title, summary)
        # Only a section that takes the item (its own `exclude` does not match).
        takes = any(
            s.id == other and not (s.exclude and _first_in(texts, s.exclude))
            for s in rules.rule_order
        )
        if other != EVENTS and takes:
            return other, f"{why}; no upcoming event in it for {EVENTS} ({reason})"
    return section, reason


def _placement(
    title: str,
    summary: str,
    feed: FeedRules,
    rules: ReadingRules,
    facts: dict[str, Any],
    financing_round: str | None,
    event_start: date | None,
    x: Vector | None,
    without: Collection[str],
) -> tuple[str, str]:
    """_section's decision among the sections not in ``without``."""
    texts = _rule_texts(title, summary)
    allowed = [
        s
        for s in rules.rule_order
        if s.id not in without and not (s.exclude and _first_in(texts, s.exclude))
    ]
    ids = {s.id for s in allowed}
    rounds = [facts.get("financing") or {}, *facts.get("financing_more", [])]
    in_topic = rules.topic.financing_sector in (None, *(r.get("sector") for r in rounds))
    if financing_round is not None and FINANCING in ids and in_topic:
        fin = facts["financing"]
        amount = fin.get("amount_text") or "amount undisclosed"
        return FINANCING, f"funding announcement: round {financing_round}, {amount}"
    if event_start is not None and EVENTS in ids:
        return EVENTS, f"upcoming event on {event_start.isoformat()}"
    if "event" in facts and EVENTS in ids:
        # An invitation without a date stays with the events, marked "date to be announced".
        return EVENTS, "upcoming event, date to be announced"
    if REPORTS in ids and feed.report:
        return REPORTS, f"feed {feed.name!r} is marked as reports"
    if REPORTS in ids and len(summary) >= LONG_FORM_CHARS:
        return REPORTS, f"long-form item ({len(summary)} characters)"
    # The keyword and pattern rules of feeds.yaml are the editor's: they come before the model.
    placement = place_item(title, summary, feed.name, feed.section, tuple(allowed))
    if placement.by_rule:
        return placement.section, placement.reason
    if x is not None and rules.model is not None and rules.model.sections is not None:
        # The model's classes may name sections this newsletter does not have: only ours count.
        best = top(rules.model.sections_of(x), sorted(ids))
        if best is not None and best[1] >= SECTION_CONFIDENCE:
            return best[0], f"section model ({best[1]:.2f})"
    if placement.section in without and allowed:
        # The feed's default is a section left out here (events, for an item without an
        # upcoming event): the most general section, the last in rule order (the order tries
        # the specific sections first) that neither a detector nor long form fills.
        general = [s for s in rules.rule_order if s.id in ids and s.id not in SPECIAL]
        last = (general or [s for s in rules.rule_order if s.id in ids])[-1]
        return last.id, f"the most general section (the feed's default is {placement.section})"
    if placement.section not in ids and allowed:
        # The feed's default section excludes this item: the first section that does not.
        first = next(s for s in rules.rule_order if s.id in ids)
        return first.id, f"{placement.reason} excludes it: first allowed section"
    return placement.section, placement.reason


@dataclass(frozen=True)
class ItemText:
    """What the reading reads of one item."""

    title: str
    summary: str
    lang: str
    published: date


def read_items(items: Sequence[ItemText], feed: FeedRules, rules: ReadingRules) -> list[Reading]:
    """The readings of several items of one feed: as read_item, with the items scored together
    (the model's feed context, if it has one) and each relevance score pulled towards the
    feed's mean by the model's ``feed_weight`` (textmodel.smooth)."""
    model = rules.model
    if model is None:
        return [read_item(i.title, i.summary, i.lang, i.published, feed, rules) for i in items]
    xs = model.features_of_items([(i.title, i.summary) for i in items])
    scores: list[float | None] = [None] * len(items)
    if rules.threshold is not None:
        scores = list(smooth(model.relevance_of_items(xs), model.feed_weight))
    return [
        read_item(i.title, i.summary, i.lang, i.published, feed, rules, score=s, x=x)
        for i, s, x in zip(items, scores, xs, strict=True)
    ]


def read_item(
    title: str,
    summary: str,
    lang: str,
    published: date,
    feed: FeedRules,
    rules: ReadingRules,
    score: float | None = None,
    x: Vector | None = None,
) -> Reading:
    """Relevance, facts and section of an item (pure); ``score`` is the relevance score and
    ``x`` the features when the caller computed them (read_items). The section model is not
    asked for an item that scores below half the threshold: its suggested section comes from
    the detectors, rules and feed default (a saving at ingest, where most items are far off
    topic). An item a rule excludes is still asked, for the section a restore would give."""
    facts: dict[str, Any] = {}
    rounds = detect_financings(title, summary, lang)
    financing = rounds[0] if rounds else None
    if financing is not None:
        facts["financing"] = financing.to_dict()
    if len(rounds) > 1:  # a second headline of the title announces another round
        facts["financing_more"] = [r.to_dict() for r in rounds[1:]]
    event = detect_event(title, summary, lang, published)
    if event is not None and financing is None:
        facts["event"] = event.to_dict()
    excluded = exclusion(title, summary, feed, rules.topic)
    sector = rules.topic.financing_sector
    # Every round the title announces is outside the sector (one inside keeps the item).
    outside = bool(rounds) and sector is not None and all(r.sector != sector for r in rounds)
    if excluded is None and outside:
        excluded = f"funding round outside {sector}"
    threshold = rules.threshold
    if rules.model is None or threshold is None:
        score = None
    else:
        if x is None:
            x = rules.model.features(title, summary)
        score = round(rules.model.relevance_of(x) if score is None else score, 4)
    far_off = score is not None and threshold is not None and score < threshold * FAR_OFF
    if x is None and rules.model is not None and not far_off:
        x = rules.model.features(title, summary)
    section, reason = _section(
        title,
        summary,
        feed,
        rules,
        facts,
        financing.round if financing is not None else None,
        event.start if event is not None and financing is None else None,
        None if far_off else x,
    )
    if excluded is not None:
        return Reading(None, excluded, facts, score, section)
    if score is not None and threshold is not None and score < threshold:
        return Reading(None, f"not relevant (score {score:.2f})", facts, score, section)
    return Reading(section, reason, facts, score, section)
