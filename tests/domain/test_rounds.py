"""newsletter.domain.rounds: the round ids the detectors give, and which may name one deal."""

from __future__ import annotations

import pytest

from newsletter.domain.rounds import ROUNDS, is_round, is_tranche, round_family, rounds_agree


def test_round_ids() -> None:
    assert all(is_round(r) for r in ROUNDS)
    assert is_tranche("b3") and not is_tranche("b") and not is_tranche("g1")
    assert is_round("b3") and is_round("a/a+") and is_round("angel/pre-a")
    assert is_round("a++") and is_round("pre-a+") and is_round("pre-a/pre-a+")
    for bad in ("a/b/c", "g1", "b0", "b10", "series b", "", "a+++", "pre-d+", "pre-a++"):
        assert not is_round(bad), bad


@pytest.mark.parametrize(
    ("a", "b", "agree"),
    [
        ("b", "b", True),
        ("b3", "b", True),
        ("a/a+", "a+", True),
        ("a/a+", "a", True),
        ("b1", "b2", False),
        ("b1", "b1/c", True),
        ("b", "c", False),
        ("undisclosed", "b", False),
    ],
)
def test_rounds_that_may_name_one_deal(a: str, b: str, agree: bool) -> None:
    assert rounds_agree(a, b) is agree
    assert rounds_agree(b, a) is agree


def test_round_family() -> None:
    assert round_family("b3") == {"b"}
    assert round_family("a/a+") == {"a", "a+"}
    assert round_family("pre-a") == {"pre-a"}
    # a follow-on is a round of its own, never its base round told another way
    assert not rounds_agree("pre-a+", "pre-a") and not rounds_agree("a++", "a+")
