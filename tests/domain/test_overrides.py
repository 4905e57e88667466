"""Editors' per-issue edits: what they type is checked field by field, and the edits reach
the assembled issue (titles, facts, the financing total, a section's order)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from newsletter.domain.assemble import assemble_issue
from newsletter.domain.content import EditorChoices
from newsletter.domain.overrides import (
    EditError,
    ItemEdit,
    edit_form_values,
    moved,
    order_by_position,
    parse_amount,
    parse_facts_edit,
    parse_text_edit,
    round_id,
)
from tests.domain.test_assemble import CONFIG, PERIOD, candidate, section


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("12.5M", 12_500_000),
        ("12,500,000", 12_500_000),
        ("1.2 bn", 1_200_000_000),
        ("300k", 300_000),
        ("7 million", 7_000_000),
        ("45", 45),
    ],
)
def test_amounts_as_editors_type_them(typed: str, amount: float) -> None:
    assert parse_amount(typed) == pytest.approx(amount)


@pytest.mark.parametrize("typed", ["twelve million", "$12M", "12..5M", "-3M", "0", "12 M USD"])
def test_an_unreadable_amount_names_the_field(typed: str) -> None:
    with pytest.raises(EditError, match=r"^amount: ") as caught:
        parse_amount(typed)
    assert caught.value.field == "amount"


@pytest.mark.parametrize(
    ("typed", "round_"),
    [
        ("Series B", "b"),
        ("b", "b"),
        ("Pre-A", "pre-a"),
        ("pre ipo", "pre-ipo"),
        ("SEED", "seed"),
        ("Series B-1", "b1"),  # a numbered tranche
        ("B3", "b3"),
        ("a/a+", "a/a+"),  # two rounds announced together
        ("Pre-A+", "pre-a+"),  # a Pre- round's follow-on
        ("PreA+", "pre-a+"),
        ("Series A++", "a++"),  # the second follow-on
    ],
)
def test_rounds_as_editors_type_them(typed: str, round_: str) -> None:
    assert round_id(typed) == round_


def test_bad_facts_name_their_field_and_nothing_is_half_read() -> None:
    with pytest.raises(EditError, match=r"^round: unknown round 'series z'"):
        parse_facts_edit({"round": "series z", "amount": "5M", "currency": "USD"})
    with pytest.raises(EditError, match=r"^event_date: cannot read '31/12/2026'"):
        parse_facts_edit({"event_date": "31/12/2026"})
    with pytest.raises(EditError, match=r"^currency: "):
        parse_facts_edit({"amount": "5M"})
    with pytest.raises(EditError, match=r"^currency: "):
        parse_facts_edit({"amount": "5M", "currency": "dollars"})
    facts = parse_facts_edit(
        {"amount": "30M", "currency": "usd", "investors": "A Capital, B Ventures", "place": "Lyon"}
    )
    assert facts.financing == {
        "amount_low": 30e6,
        "amount_high": 30e6,
        "amount_text": None,
        "currency": "USD",
        "lead_investors": ["A Capital", "B Ventures"],
    }
    assert facts.event == {"place": "Lyon"}


def test_text_edits_stay_on_one_line_where_they_reach_headers() -> None:
    edit = parse_text_edit("  A  better\ttitle ", "Two\nlines are fine here.", "")
    assert (edit.title, edit.summary, edit.blurb) == (
        "A better title",
        "Two\nlines are fine here.",
        None,
    )
    with pytest.raises(EditError, match=r"^title: the sequence .=\?."):
        parse_text_edit("=?utf-8?q?x=0D=0ABcc:_a@b.c?=", None, None)
    with pytest.raises(EditError, match=r"^blurb: at most 280 characters"):
        parse_text_edit(None, None, "x" * 281)
    with pytest.raises(EditError, match=r"^summary: remove the control characters"):
        parse_text_edit(None, "bell \x07", None)


def test_positions_and_moves() -> None:
    assert moved([1, 2, 3], 3, "up") == [1, 3, 2]
    assert moved([1, 2, 3], 1, "down") == [2, 1, 3]
    with pytest.raises(EditError, match="already first"):
        moved([1, 2, 3], 1, "up")
    # Placed items first in their order; an item that arrived later goes below them.
    assert order_by_position([4, 1, 2, 3], {3: 0, 1: 1, 2: 2}) == [3, 1, 2, 4]


def test_edits_reach_the_assembled_issue() -> None:
    fin = {
        "financing": {
            "company": "Acme",
            "round": "b",
            "amount_low": 25e6,
            "amount_high": 25e6,
            "currency": "USD",
            "amount_text": "$25M",
            "lead_investors": [],
        }
    }
    pool = [
        replace(candidate(1, "Acme raises $25M", section="financing"), facts=fin),
        candidate(2, "Second", section="headlines"),
        candidate(3, "Third", section="headlines"),
    ]
    facts = parse_facts_edit({"amount": "40M", "currency": "EUR"})
    edits = {
        1: ItemEdit(
            1, title="Acme raises €40M", blurb="Corrected amount", financing=facts.financing
        ),
        3: ItemEdit(3, position=0),
        2: ItemEdit(2, position=1),
    }
    plain = assemble_issue(CONFIG, PERIOD, pool)
    edited = assemble_issue(CONFIG, PERIOD, pool, EditorChoices(edits=edits))
    (acme,) = section(edited, "financing").items
    assert acme.title == "Acme raises €40M" and acme.blurb == "Corrected amount"
    assert (
        acme.facts["financing"]["amount_low"] == 40e6
        and acme.facts["financing"]["currency"] == "EUR"
    )
    assert (
        acme.facts["financing"]["amount_text"] is None
    )  # the typed amount replaces the feed's text
    assert acme.edited == ["title", "blurb", "financing"]
    assert edited.financing_totals == [{"currency": "EUR", "low": 40e6, "high": 40e6, "rounds": 1}]
    assert plain.financing_totals[0]["currency"] == "USD"
    order = [i.id for i in section(edited, "headlines").items]
    assert [i.id for i in section(plain, "headlines").items] == [2, 3]  # by score, then id
    assert order == [3, 2]  # as the editor placed them


def test_form_values_round_trip() -> None:
    facts = parse_facts_edit({"amount": "12.5M", "currency": "USD", "round": "Series B"})
    values = edit_form_values(ItemEdit(7, title="T", financing=facts.financing))
    assert values == {"title": "T", "round": "b", "amount": "12.5M", "currency": "USD"}
    assert parse_facts_edit(values).financing == facts.financing
