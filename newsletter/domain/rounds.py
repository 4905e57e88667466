"""Round ids of funding announcements: the ones the detectors give, and which of them may name
one deal. Pure and light (the email layer labels rounds without importing the detectors)."""

from __future__ import annotations

import re

ROUNDS = (
    "seed",
    "angel",
    "pre-a",
    "a",
    "a+",
    "b",
    "b+",
    "c",
    "c+",
    "d",
    "d+",
    "e",
    "e+",
    "f",
    "f+",
    "pre-b",
    "pre-c",
    "pre-ipo",
    "strategic",
    "undisclosed",
)
# Beyond ROUNDS: a numbered tranche of a lettered round ("b3" for B3轮, "Series B-1"), a second
# follow-on ("a++" for A++轮) or a follow-on of a Pre- round ("pre-a+" for Pre-A+轮), and two
# rounds announced together ("a/a+" for A轮及A+轮, "b/c" for B、C轮), as RULES.md labels them.
_TRANCHE = re.compile(r"[a-f][1-9]")
_FOLLOW_ON = re.compile(r"[a-f]\+\+|pre-[a-c]\+")


def is_follow_on(round_id: str) -> bool:
    """Whether a round id is a second follow-on ("a++") or a Pre- round's follow-on ("pre-a+")."""
    return _FOLLOW_ON.fullmatch(round_id) is not None


def is_tranche(round_id: str) -> bool:
    """Whether a round id is a numbered tranche of a lettered round ("b3")."""
    return _TRANCHE.fullmatch(round_id) is not None


def is_round(round_id: str) -> bool:
    """Whether a round id is one the detectors give: one of ROUNDS, a numbered tranche ("b3"), a
    follow-on ("a++", "pre-a+"), or two of those joined by "/" ("a/a+")."""
    parts = round_id.split("/")
    return len(parts) <= 2 and all(p in ROUNDS or is_tranche(p) or is_follow_on(p) for p in parts)


def round_family(round_id: str) -> frozenset[str]:
    """The rounds a round id may be reported as: a tranche as its round ("b3" → "b"), two rounds
    announced together as either ("a/a+" → "a", "a+"). Outlets often drop the tranche number or
    one of the two rounds."""
    return frozenset(part[0] if is_tranche(part) else part for part in round_id.split("/") if part)


def rounds_agree(a: str, b: str) -> bool:
    """Whether two round ids may name one deal: equal, or one family ("b3" and "b", "a/a+"
    and "a+"); two different numbered tranches ("b1", "b2") are two closings."""
    if a == b:
        return True
    if not round_family(a) & round_family(b):
        return False
    tranches_a = {p for p in a.split("/") if is_tranche(p)}
    tranches_b = {p for p in b.split("/") if is_tranche(p)}
    return not (tranches_a and tranches_b and not tranches_a & tranches_b)
