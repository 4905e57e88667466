"""An editor's per-issue edits of one item (title, summary, blurb, financing and event facts,
and its place in its section): checking what an editor typed, naming the field at fault, and
applying the edits to the items offered to the assembler. Pure: no I/O."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from newsletter.domain.editorial.financing import ROUNDS, is_round
from newsletter.errors import IssueError

TITLE_CHARS = 300
SUMMARY_CHARS = 280  # what the assembler shows of a summary anyway
BLURB_CHARS = 280
COMPANY_CHARS = 120
PLACE_CHARS = 120
INVESTORS_CHARS = 300
TEXT_FIELDS = ("title", "summary", "blurb")
FINANCING_FIELDS = ("company", "round", "amount", "currency", "investors")
EVENT_FIELDS = ("event_date", "place")
FACT_FIELDS = FINANCING_FIELDS + EVENT_FIELDS

_AMOUNT = re.compile(
    r"^(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<fraction>\d+))?\s*"
    r"(?P<unit>k|thousand|m|mn|million|b|bn|billion)?$",
    re.I,
)
_UNITS = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
}
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class EditError(IssueError):
    """An editor's value that cannot be used; ``field`` names the form field at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.reason = message


@dataclass(frozen=True)
class ItemEdit:
    """What an editor changed of one item for one issue (None or empty: as read from the feed)."""

    item_id: int
    title: str | None = None
    summary: str | None = None
    blurb: str | None = None
    financing: dict[str, Any] = field(default_factory=dict)  # keys as in item.facts['financing']
    event: dict[str, Any] = field(default_factory=dict)  # keys as in item.facts['event']
    position: int | None = None  # its place in its section (0 first); None: by score

    @property
    def changes_content(self) -> bool:
        """True when any text or fact is overridden (a position alone is not)."""
        return bool(self.title or self.summary or self.blurb or self.financing or self.event)


@dataclass(frozen=True)
class TextEdit:
    """Checked title, summary and blurb (None: no override, the feed's text is used)."""

    title: str | None
    summary: str | None
    blurb: str | None


@dataclass(frozen=True)
class FactsEdit:
    """Checked facts: the financing and event keys an editor set (absent: as extracted)."""

    financing: dict[str, Any]
    event: dict[str, Any]


def _clean(value: str | None, name: str, limit: int, *, one_line: bool) -> str | None:
    """Trimmed text, None when empty; refuses control characters, and line breaks where the
    text must stay on one line (a title can reach the Subject header)."""
    text = (value or "").strip()
    if not text:
        return None
    if one_line:
        text = " ".join(text.split())
    for ch in text:
        if ch in "\n\t" and not one_line:
            continue
        if unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\u200d":
            raise EditError(name, "remove the control characters (line breaks, tabs, invisibles)")
    if "=?" in text and one_line:
        # CVE-2024-6923: encoded-word syntax in a header could spell another header.
        raise EditError(name, "the sequence '=?' is not allowed here")
    if len(text) > limit:
        raise EditError(name, f"at most {limit} characters, got {len(text)}")
    return text


def parse_text_edit(title: str | None, summary: str | None, blurb: str | None) -> TextEdit:
    """Check an edit of the item's title, summary and blurb (EditError names the field)."""
    return TextEdit(
        title=_clean(title, "title", TITLE_CHARS, one_line=True),
        summary=_clean(summary, "summary", SUMMARY_CHARS, one_line=False),
        blurb=_clean(blurb, "blurb", BLURB_CHARS, one_line=False),
    )


def round_id(value: str) -> str:
    """A round as typed ("Series B", "b", "Pre-A", "seed", "B3", "a/a+") to its id, or
    EditError."""
    text = " ".join(value.lower().replace("_", "-").split())
    text = re.sub(r"^series\s+", "", text)
    text = re.sub(r"\s+round$", "", text)
    text = text.replace("pre ", "pre-").replace(" ", "")
    text = re.sub(r"^([a-f])-([1-9])$", r"\1\2", text)  # Series B-1 -> b1
    if text == "preipo":
        text = "pre-ipo"
    text = re.sub(r"^pre([a-c])(\+?)$", r"pre-\1\2", text)  # PreA+ -> pre-a+
    if not is_round(text):
        raise EditError(
            "round",
            f"unknown round {value!r}; use one of {', '.join(ROUNDS)}, a tranche such as b3, "
            "a follow-on such as a++ or pre-a+, or two rounds such as a/a+",
        )
    return text


def parse_amount(value: str) -> float:
    """An amount as typed ("12.5M", "12,500,000", "1.2 bn", "300k") in whole units."""
    match = _AMOUNT.match(re.sub(r"\s+", "", value))
    if match is None:
        raise EditError(
            "amount",
            f"cannot read {value!r} as an amount; write a number with an optional k, M or bn "
            "(12.5M, 12,500,000, 1.2bn) and give the currency apart",
        )
    number = float(match["number"].replace(",", "") + "." + (match["fraction"] or "0"))
    unit = (match["unit"] or "").lower()
    amount = number * _UNITS.get(unit, 1.0)
    if amount <= 0:
        raise EditError("amount", "must be more than zero")
    return amount


def parse_facts_edit(values: Mapping[str, str | None]) -> FactsEdit:
    """Check an edit of the facts (keys of FACT_FIELDS; empty ones are left as extracted)."""

    def get(name: str) -> str:
        return (values.get(name) or "").strip()

    financing: dict[str, Any] = {}
    company = _clean(get("company"), "company", COMPANY_CHARS, one_line=True)
    if company:
        financing["company"] = company
    if get("round"):
        financing["round"] = round_id(get("round"))
    if get("amount"):
        amount = parse_amount(get("amount"))
        financing.update(amount_low=amount, amount_high=amount, amount_text=None)
    if get("currency"):
        currency = get("currency").upper()
        if not _CURRENCY.match(currency):
            raise EditError(
                "currency",
                f"use a three-letter code such as USD, EUR or CNY, got {get('currency')!r}",
            )
        financing["currency"] = currency
    if "amount_low" in financing and "currency" not in financing:
        raise EditError("currency", "give the currency of the amount (USD, EUR, CNY...)")
    investors = _clean(get("investors"), "investors", INVESTORS_CHARS, one_line=True)
    if investors:
        financing["lead_investors"] = [
            p.strip() for p in re.split(r"[,;，、]", investors) if p.strip()
        ]
    event: dict[str, Any] = {}
    if get("event_date"):
        try:
            event["start"] = date.fromisoformat(get("event_date")).isoformat()
        except ValueError as exc:
            raise EditError(
                "event_date", f"cannot read {get('event_date')!r} as a date; write it as YYYY-MM-DD"
            ) from exc
    place = _clean(get("place"), "place", PLACE_CHARS, one_line=True)
    if place:
        event["place"] = place
    return FactsEdit(financing=financing, event=event)


def apply_facts(facts: dict[str, Any], edit: ItemEdit, title: str) -> dict[str, Any]:
    """An item's extracted facts with the editor's overrides on top (a financing or event fact
    the reading did not find is made from the overrides, named after the title)."""
    result = dict(facts)
    if edit.financing:
        base = dict(result.get("financing") or {"company": title, "round": "undisclosed"})
        if "amount_low" in edit.financing:
            base["amount_text"] = None  # the typed amount replaces the text found in the feed
        result["financing"] = {**base, **edit.financing}
    if edit.event:
        base = dict(result.get("event") or {"name": title, "start": None, "place": None})
        result["event"] = {**base, **edit.event}
    return result


def order_by_position(item_ids: list[int], positions: dict[int, int]) -> list[int]:
    """A section's items with the editor's positions first, in their order, then the rest in
    the order given (by score): a new item that arrives later goes below the placed ones."""
    index = {item_id: n for n, item_id in enumerate(item_ids)}
    return sorted(
        item_ids,
        key=lambda i: (0, positions[i], index[i]) if i in positions else (1, index[i], 0),
    )


def moved(item_ids: list[int], item_id: int, direction: str) -> list[int]:
    """The section's order with one item one place up or down (EditError at an end)."""
    if item_id not in item_ids:
        raise EditError("item", f"item {item_id} is not in this section")
    if direction not in ("up", "down"):
        raise EditError("direction", "use up or down")
    at = item_ids.index(item_id)
    to = at - 1 if direction == "up" else at + 1
    if not 0 <= to < len(item_ids):
        raise EditError(
            "direction", f"item {item_id} is already {'first' if direction == 'up' else 'last'}"
        )
    order = list(item_ids)
    order[at], order[to] = order[to], order[at]
    return order


def with_edit(
    edit: ItemEdit | None, title: str, summary: str, facts: dict[str, Any]
) -> tuple[str, str, dict[str, Any]]:
    """An item's title, summary and facts with an edit applied (unchanged without one)."""
    if edit is None:
        return title, summary, facts
    return (
        edit.title or title,
        edit.summary or summary,
        apply_facts(facts, edit, edit.title or title),
    )


def describe_text_edit(edit: TextEdit) -> str:
    """The log's note for a text edit: which fields were set, with the new text (shortened)."""
    parts = []
    for name in TEXT_FIELDS:
        value = getattr(edit, name)
        parts.append(f"{name}: {_short(value)}" if value else f"{name}: (as in the feed)")
    return "; ".join(parts)


def describe_facts_edit(edit: FactsEdit) -> str:
    """The log's note for a facts edit: each fact set, as an editor would write it."""
    values = edit_form_values(ItemEdit(0, financing=edit.financing, event=edit.event))
    if "amount" in values and "currency" in values:
        values["amount"] = f"{values.pop('currency')} {values['amount']}"
    names = {"event_date": "event date", "investors": "lead investors"}
    parts = [f"{names.get(k, k)}: {_short(v)}" for k, v in values.items()]
    return "; ".join(parts) or "facts as extracted"


def _compact_amount(value: float) -> str:
    for unit, size in (("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:,.3f}".rstrip("0").rstrip(".") + unit
    return f"{value:,.0f}"


def edit_form_values(edit: ItemEdit | None) -> dict[str, str]:
    """The values an editor's forms show for an item: the overrides kept for the issue."""
    if edit is None:
        return {}
    fin, ev = edit.financing, edit.event
    values = {
        "title": edit.title or "",
        "summary": edit.summary or "",
        "blurb": edit.blurb or "",
        "company": str(fin.get("company") or ""),
        "round": str(fin.get("round") or ""),
        "amount": _compact_amount(fin["amount_low"]) if fin.get("amount_low") else "",
        "currency": str(fin.get("currency") or ""),
        "investors": ", ".join(fin.get("lead_investors") or []),
        "event_date": str(ev.get("start") or ""),
        "place": str(ev.get("place") or ""),
    }
    return {k: v for k, v in values.items() if v}


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "EVENT_FIELDS",
    "FACT_FIELDS",
    "FINANCING_FIELDS",
    "EditError",
    "FactsEdit",
    "ItemEdit",
    "TextEdit",
    "apply_facts",
    "describe_facts_edit",
    "describe_text_edit",
    "edit_form_values",
    "moved",
    "order_by_position",
    "parse_amount",
    "parse_facts_edit",
    "parse_text_edit",
    "round_id",
    "with_edit",
]
