"""Pure section routing: which section an item belongs in, and why."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from newsletter.config import SectionConfig
from newsletter.domain.editorial.prefilter import Prefiltered


@dataclass(frozen=True)
class Placement:
    """The chosen section and a human-readable reason."""

    section: str
    reason: str
    by_rule: bool = True  # False: no rule matched, the feed's default section


@dataclass(frozen=True)
class _Rule:
    section: str
    label: str
    regex: re.Pattern[str] | Prefiltered  # a pattern with its literal prefilter
    needle: str | None = None  # a keyword's casefolded text: a cheap substring test first


def keyword_regex(keyword: str) -> str:
    """A keyword as a regular expression: English (ASCII) ones as whole words, others anywhere."""
    escaped = re.escape(keyword)
    if keyword.isascii():
        # English keywords match whole words ("AI" must not match "said").
        return rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
    return escaped


@lru_cache(maxsize=32)
def _compile(sections: tuple[SectionConfig, ...]) -> tuple[_Rule, ...]:
    rules: list[_Rule] = []
    for section in sections:
        for keyword in section.keywords:
            rules.append(
                _Rule(
                    section.id,
                    f"keyword {keyword!r}",
                    re.compile(keyword_regex(keyword), re.I),
                    keyword.casefold(),
                )
            )
        for pattern in section.patterns:
            # A pattern such as "(funding|market) report" scans the whole summary; its
            # prefilter skips texts without the words every match holds (" report").
            regex = Prefiltered(re.compile(pattern, re.I))
            rules.append(_Rule(section.id, f"pattern {pattern!r}", regex))
    return tuple(rules)


def place_item(
    title: str,
    summary: str,
    feed_name: str,
    feed_section: str,
    sections: tuple[SectionConfig, ...],
) -> Placement:
    """Route an item: the first section (in rule order, see Config.rule_order) with a rule
    matching the title wins, then one matching the summary; else the feed's default section."""
    rules = _compile(sections)
    for field_name, text in (("title", title), ("summary", summary[:2000])):
        if not text:
            continue
        folded = text.casefold()
        for rule in rules:
            if rule.needle is not None and rule.needle not in folded:
                continue
            if rule.regex.search(text):
                return Placement(rule.section, f"{rule.label} in {field_name}")
    return Placement(feed_section, f"default section of feed {feed_name!r}", by_rule=False)
